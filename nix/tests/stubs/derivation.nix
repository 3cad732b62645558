# Real derivations whose builder cannot run. `.drvPath`, `.outPath` and string context are
# those of real derivations, so every value handed to a builder must coerce to a string as
# Nix requires, and what depends on what is recorded as Nix records it; only building is
# impossible. Used by the stand-ins for nixpkgs, crane and rust-overlay.
rec {
  builder = "/stand-in/not-buildable";

  # The stdenv.mkDerivation attributes the stand-ins accept: those stdenv, its setup hooks
  # or Nix itself give a meaning to. The real mkDerivation would also export any other name
  # as an environment variable; the stand-ins refuse them so a misspelt attribute is an
  # error here (environment variables go in `env`).
  stdenvArgs = [
    "name"
    "pname"
    "version"
    "src"
    "srcs"
    "sourceRoot"
    "strictDeps"
    "nativeBuildInputs"
    "buildInputs"
    "propagatedBuildInputs"
    "propagatedNativeBuildInputs"
    "depsBuildBuild"
    "nativeCheckInputs"
    "checkInputs"
    "env"
    "passthru"
    "meta"
    "outputs"
    "phases"
    "unpackPhase"
    "patchPhase"
    "configurePhase"
    "buildPhase"
    "checkPhase"
    "installPhase"
    "fixupPhase"
    "installCheckPhase"
    "buildCommand"
    "preUnpack"
    "postUnpack"
    "patches"
    "prePatch"
    "postPatch"
    "preConfigure"
    "postConfigure"
    "preBuild"
    "postBuild"
    "preCheck"
    "postCheck"
    "preInstall"
    "postInstall"
    "preFixup"
    "postFixup"
    "preInstallCheck"
    "postInstallCheck"
    "preInstallPhases"
    "preDistPhases"
    "postPhases"
    "doCheck"
    "doInstallCheck"
    "dontUnpack"
    "dontConfigure"
    "dontBuild"
    "dontInstall"
    "dontFixup"
    "dontStrip"
    "dontPatchELF"
    "enableParallelBuilding"
    "separateDebugInfo"
    "preferLocalBuild"
    "allowSubstitutes"
    "passAsFile"
    "shellHook"
    "allowedReferences"
    "allowedRequisites"
    "disallowedReferences"
    "disallowedRequisites"
    "__structuredAttrs"
  ];

  names = list: builtins.concatStringsSep ", " list;

  sanitize =
    name:
    let
      parts = builtins.split "[^[:alnum:]+._?=-]+" (builtins.unsafeDiscardStringContext name);
      joined = builtins.concatStringsSep "-" (builtins.filter builtins.isString parts);
      noDots = builtins.head (builtins.match "[.]*(.*)" joined);
    in
    builtins.substring 0 207 (if noDots == "" then "unknown" else noDots);

  # `args` if every attribute name is in `allowed` and every name of `required` is there;
  # otherwise an error naming the function and the offending names.
  checkArgs =
    what: allowed: required: args:
    let
      unknown = builtins.attrNames (removeAttrs args allowed);
      missing = builtins.filter (k: !(args ? ${k})) required;
    in
    if !builtins.isAttrs args then
      throw "${what} (stand-in): takes an attribute set, got a ${builtins.typeOf args}"
    else if unknown != [ ] then
      throw "${what} (stand-in): unexpected argument ${names unknown}; ${what} takes ${names allowed}"
    else if missing != [ ] then
      throw "${what} (stand-in): missing required argument ${names missing}"
    else
      args;

  # stdenv.mkDerivation's lowering, simplified: `env` is merged into the environment,
  # `passthru` and `meta` stay out of it and are attributes of the result, nulls are
  # dropped (stdenv sets __ignoreNulls). `a` has been checked by the caller.
  derive =
    system: what: a:
    let
      env = a.env or { };
      # As stdenv: a value of `env` must be one environment variable's worth.
      scalar =
        v:
        builtins.isString v
        || builtins.isInt v
        || builtins.isBool v
        || builtins.isPath v
        || (builtins.isAttrs v && v ? outPath);
      badEnv = builtins.filter (k: !scalar env.${k}) (builtins.attrNames env);
      # Sanitized as stdenv does: runs of characters a store path cannot hold become "-".
      name = sanitize (
        a.name or (
          if a ? pname && a ? version then
            "${a.pname}-${a.version}"
          else
            throw "${what} (stand-in): needs `name`, or `pname` and `version`"
        )
      );
      drvAttrs =
        removeAttrs (
          removeAttrs a [
            "passthru"
            "meta"
            "env"
          ]
          // env
        ) (builtins.filter (k: a.${k} == null) (builtins.attrNames a))
        // {
          inherit name system builder;
        };
      drv = derivation drvAttrs;
      passthru = a.passthru or { };
    in
    if badEnv != [ ] then
      throw "${what} (stand-in): env.${builtins.head badEnv} must be a string, number, boolean, path or derivation"
    else
      drv
      // passthru
      // {
        inherit passthru drvAttrs;
        meta = a.meta or { };
      };

  # stdenv.mkDerivation with the accepted attribute names checked.
  mkDerivation =
    system: what: args:
    derive system what (checkArgs what stdenvArgs [ ] args);
}
