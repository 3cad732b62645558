# The stand-in package set: the nixpkgs functions and packages the flake uses, with the real
# ones' arguments (a name the real function does not take is an error) producing real
# derivations that cannot be built (../derivation.nix). Overlays compose as in nixpkgs.
# It also has what the real crane and rust-overlay take from nixpkgs (scopes and splicing
# for a native build, platforms, setup hooks, fetchers, the packages their builders name),
# so the flake can be evaluated against their real sources over the real nixpkgs lib; those
# parts follow the real functions' interfaces without the strictness the flake's own calls
# get (stdenv.mkDerivation exports any attribute, as the real one does).
{
  lib,
  system,
  overlays,
  # Whether runCommand's attribute set may only hold names stdenv gives a meaning to (the
  # flake's own calls put environment variables in `env`); false for evaluating the real
  # crane, which exports variables through it as nixpkgs allows.
  strict ? true,
}:
let
  d = import ../derivation.nix;

  mkDerivation = d.mkDerivation system;
  # stdenv.mkDerivation as crane and rust-overlay call it: any attribute is exported.
  mkDerivationAny = what: args: d.derive system what (if builtins.isFunction args then args { } else args);
  package =
    pname: version:
    mkDerivation pname {
      inherit pname version;
      meta.description = "stand-in for nixpkgs' ${pname}";
    };

  callPackageWith =
    autoArgs: fn: args:
    let
      f = if lib.isFunction fn then fn else import fn;
      formals = builtins.functionArgs f;
      given = builtins.intersectAttrs formals autoArgs // args;
      missing = builtins.filter (k: !formals.${k} && !(given ? ${k})) (builtins.attrNames formals);
    in
    if missing != [ ] then
      throw "callPackage (stand-in): function called without required argument \"${builtins.head missing}\" (${toString fn})"
    else
      lib.makeOverridable f given;

  # dockerTools.streamLayeredImage: the real function's arguments (nixpkgs'
  # pkgs/build-support/docker/default.nix), and its structure: the config and the
  # customisation layer are the closure roots of the image.
  streamLayeredImage =
    {
      name,
      tag ? null,
      fromImage ? null,
      contents ? [ ],
      config ? { },
      architecture ? "amd64",
      created ? "1970-01-01T00:00:01Z",
      mtime ? "1970-01-01T00:00:01Z",
      uid ? 0,
      gid ? 0,
      uname ? "root",
      gname ? "root",
      maxLayers ? 100,
      extraCommands ? "",
      fakeRootCommands ? "",
      enableFakechroot ? false,
      includeStorePaths ? true,
      includeNixDB ? false,
      passthru ? { },
      meta ? { },
      layeringPipeline ? null,
      debug ? false,
    }@args:
    let
      baseName = baseNameOf name;
      baseJson = writeText "${baseName}-config.json" (
        builtins.toJSON {
          inherit config created architecture;
          os = "linux";
        }
      );
      customisationLayer = mkDerivation "streamLayeredImage" {
        name = "${baseName}-customisation-layer";
        env = {
          inherit extraCommands fakeRootCommands;
          paths = toString contents;
        };
      };
    in
    mkDerivation "streamLayeredImage" {
      name = "stream-${baseName}";
      env = {
        conf = builtins.toJSON {
          inherit created mtime;
          repo_tag = "${lib.toLower name}:${if tag == null then "" else tag}";
          closure_roots = if includeStorePaths then [ "${baseJson}" "${customisationLayer}" ] else [ ];
        };
      };
      passthru = passthru // {
        imageTag = tag;
        imageName = lib.toLower name;
        isExe = true;
        # What the flake asked for, for the tests.
        imageArgs = args;
      };
      inherit meta;
    };

  writeTextFile =
    {
      name,
      text,
      executable ? false,
      destination ? "",
      checkPhase ? "",
      meta ? { },
      passthru ? { },
      allowSubstitutes ? false,
      preferLocalBuild ? true,
      derivationArgs ? { },
    }:
    mkDerivation "writeTextFile" (
      derivationArgs
      // {
        inherit
          name
          meta
          passthru
          allowSubstitutes
          preferLocalBuild
          ;
        env = {
          inherit text destination;
          executable = if executable then "1" else "";
        };
        passAsFile = [ "text" ];
        buildCommand = checkPhase;
      }
    );
  writeText = name: text: writeTextFile { inherit name text; };

  # The platform of a native build: lib.systems.elaborate's with the real lib; the fields
  # the flake reads with the stand-in lib.
  platform =
    if lib ? systems then
      lib.systems.elaborate system
    else
      {
        inherit system;
      };

  # A fixed-output derivation, as the real fetchers produce.
  fixedOutput =
    what: name: mode: hash:
    d.derive system what {
      inherit name;
      outputHashMode = mode;
      outputHash = hash;
      outputHashAlgo = if builtins.match "sha256-.*" hash != null then null else "sha256";
    };

  base = final: {
    inherit lib;
    pkgs = final;
    path = ./.;
    stdenv = {
      hostPlatform = platform;
      buildPlatform = platform;
      targetPlatform = platform;
      mkDerivation = mkDerivationAny "stdenv.mkDerivation";
      cc = final.gcc-wrapper;
      shell = "${final.bash}/bin/bash";
    };
    stdenvNoCC = final.stdenv;
    callPackage = callPackageWith final;
    newScope = extra: callPackageWith (final // extra);
    # A native build: nothing to splice, every package set is this one.
    splicePackages = { pkgsHostTarget, ... }: pkgsHostTarget;
    makeScopeWithSplicing' = lib.makeScopeWithSplicing' {
      inherit (final) splicePackages newScope;
    };
    pkgsBuildBuild = final;
    pkgsBuildHost = final;
    pkgsBuildTarget = final;
    pkgsHostHost = final;
    pkgsHostTarget = final;
    pkgsTargetTarget = final;
    buildPackages = final;

    runCommand =
      name: env: buildCommand:
      if !builtins.isAttrs env then
        throw "runCommand (stand-in): the second argument is the derivation's attributes, got a ${builtins.typeOf env}"
      else
        (if strict then mkDerivation else mkDerivationAny) "runCommand (env of ${name})" (
          env // { inherit name buildCommand; }
        );
    runCommandLocal = final.runCommand;
    inherit writeText writeTextFile;
    writeShellScriptBin =
      name: text:
      writeTextFile {
        inherit name;
        executable = true;
        destination = "/bin/${name}";
        text = "#!/bin/sh\n${text}";
        meta.mainProgram = name;
      };
    symlinkJoin =
      {
        name,
        paths,
        preferLocalBuild ? true,
        allowSubstitutes ? false,
        postBuild ? "",
        ...
      }@args:
      mkDerivationAny "symlinkJoin" (
        removeAttrs args [ "paths" ]
        // {
          env.paths = toString paths;
          buildCommand = postBuild;
        }
      );
    makeSetupHook =
      {
        name ? null,
        deps ? [ ],
        propagatedBuildInputs ? [ ],
        depsTargetTargetPropagated ? [ ],
        meta ? { },
        passthru ? { },
        substitutions ? { },
      }:
      script:
      mkDerivation "makeSetupHook" {
        name = if name == null then baseNameOf script else name;
        inherit propagatedBuildInputs meta passthru;
        env = {
          inherit script;
          substitutions = builtins.toJSON substitutions;
        };
      };
    mkShell =
      {
        name ? "nix-shell",
        packages ? [ ],
        inputsFrom ? [ ],
        ...
      }@args:
      mkDerivationAny "mkShell" (
        removeAttrs args [
          "packages"
          "inputsFrom"
        ]
        // {
          inherit name;
          nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ packages;
        }
      );
    fetchurl =
      {
        url ? null,
        urls ? [ ],
        name ? baseNameOf (if url != null then url else builtins.head urls),
        sha256 ? null,
        hash ? null,
        ...
      }:
      fixedOutput "fetchurl" name "flat" (if hash != null then hash else sha256);
    fetchgit =
      {
        url,
        rev ? "HEAD",
        hash ? null,
        sha256 ? null,
        name ? "source",
        ...
      }:
      fixedOutput "fetchgit" name "recursive" (if hash != null then hash else sha256);
    rustPlatform.buildRustPackage =
      args:
      mkDerivationAny "rustPlatform.buildRustPackage" (
        removeAttrs args [ "cargoLock" ] // { cargoLockFile = args.cargoLock.lockFile or ""; }
      );

    dockerTools = {
      inherit streamLayeredImage;
    };

    makeWrapper = package "make-shell-wrapper-hook" "0";
    writableTmpDirAsHomeHook = package "writable-tmpdir-as-home-hook" "0";
    autoPatchelfHook = package "auto-patchelf-hook" "0";
    jq = package "jq" "1.8.1";
    kubectl = package "kubectl" "1.33.0";
    kubernetes-helm = package "kubernetes-helm" "3.18.0";
    umoci = package "umoci" "0.5.0";
    podman = package "podman" "5.5.0";
    nixfmt = package "nixfmt" "1.0.0";
    sqlite = package "sqlite" "3.50.0";
    pkg-config = package "pkg-config-wrapper" "0.29.2";
    rsync = package "rsync" "3.4.1";
    zstd = package "zstd" "1.5.7";
    remarshal = package "remarshal" "1.0.0";
    bash = package "bash" "5.3";
    curl = package "curl" "8.14.0";
    gnutar = package "gnutar" "1.35";
    zlib = package "zlib" "1.3.1";
    lndir = package "lndir" "1.0.5";
    patchelf = package "patchelf" "0.18.0";
    # Its `lib` output stands for the real multiple-output package's.
    gccForLibs = package "gcc" "14.3.0" // {
      lib = package "gcc-lib" "14.3.0";
    };
    bintools =
      package "binutils-wrapper" "2.44"
      // {
        # What rust-overlay's rustc wrapper takes from nixpkgs' bintools-wrapper.
        expandResponseParams = "${package "expand-response-params" "0"}/bin/expand-response-params";
        shell = "${final.bash}/bin/bash";
        suffixSalt = "X86_64_UNKNOWN_LINUX_GNU";
        wrapperName = "BINTOOLS_WRAPPER";
        coreutils_bin = "${package "coreutils" "9.7"}";
      };
    gcc-wrapper =
      package "gcc-wrapper" "14.3.0"
      // {
        bintools = final.bintools;
        targetPrefix = "";
      };
    cargo = package "cargo" "1.89.0";
    rustc = package "rustc" "1.89.0";
    clippy = package "clippy" "1.89.0";
    rustfmt = package "rustfmt" "1.89.0";
    pkgsStatic = {
      busybox = package "busybox-static" "1.37.0";
    };
  };

  extends =
    overlay: f: final:
    let
      prev = f final;
    in
    prev // overlay final prev;
  composed = builtins.foldl' (f: overlay: extends overlay f) base overlays;
  pkgs = composed pkgs;
in
pkgs
