# Out-of-tree storage plugins (flake.nix: lib.mkStoragePlugin): what the flake must know
# about a plugin crate before building it, read from the plugin's own files, with every
# mistake reported at evaluation time naming the plugin. The build itself is
# ../packages.nix's (its own source, its own Cargo.lock, this flake's toolchain).
let
  fingerprint = import ./fingerprint.nix;

  required = [
    "name"
    "src"
  ];
  optional = [
    "cargoLock"
    "package"
    "libName"
    "outputHashes"
    "buildInputs"
    "nativeBuildInputs"
    "cargoExtraArgs"
  ];

  list = names: builtins.concatStringsSep ", " names;
  who = spec: "clusterpedia.lib.mkStoragePlugin (${builtins.toJSON (spec.name or null)})";

  # Cargo package and [lib] names: also spliced into cargo's command line.
  crateName = builtins.match "[A-Za-z0-9_-]+";
  underscored = builtins.replaceStrings [ "-" ] [ "_" ];

  # The spec itself, or a stop naming the wrong attribute.
  checkSpec =
    spec:
    let
      unknown = builtins.attrNames (removeAttrs spec (required ++ optional));
      missing = builtins.filter (k: !(spec ? ${k})) required;
    in
    if !builtins.isAttrs spec then
      throw "clusterpedia.lib.mkStoragePlugin takes a plugin { name; src; ... } or a list of them, not a ${builtins.typeOf spec}"
    else if unknown != [ ] then
      throw "${who spec}: unknown attribute ${list unknown}; a plugin takes ${list required} and optionally ${list optional}"
    else if missing != [ ] then
      throw "${who spec}: missing ${list missing}"
    else if !builtins.isString spec.name || spec.name == "" then
      throw "${who spec}: `name` must be the storage-layer name the plugin registers"
    else
      spec;

  # One plugin from its spec and the text of its files:
  #   cargoToml      the Cargo.toml at the root of `src`
  #   toolchainToml  its rust-toolchain.toml, or null when it has none
  #   channel        this flake's rust-toolchain.toml channel
  describe =
    {
      spec,
      cargoToml,
      toolchainToml,
      channel,
    }:
    let
      s = checkSpec spec;
      manifest = builtins.fromTOML cargoToml;
      root = manifest.package or null;
      package =
        s.package or (
          if root != null then
            root.name
          else
            throw "${who s}: the Cargo.toml at the root of `src` is a virtual workspace; set `package` to the plugin crate's name and `libName` to its [lib] name"
        );
      isRoot = root != null && root.name == package;
      libName = s.libName or (if isRoot then manifest.lib.name or (underscored package) else underscored package);
      crateTypes = manifest.lib."crate-type" or [ ];
      version =
        if !isRoot then
          manifest.workspace.package.version or "0.0.0"
        else if root ? version then
          fingerprint.packageVersion "${package}'s Cargo.toml" root cargoToml
        else
          "0.0.0";
      theirs = if toolchainToml == null then null else (builtins.fromTOML toolchainToml).toolchain.channel or null;
    in
    if crateName package == null then
      throw "${who s}: package ${builtins.toJSON package} is not a cargo package name"
    else if crateName libName == null then
      throw "${who s}: libName ${builtins.toJSON libName} is not a cargo [lib] name"
    else if isRoot && !(builtins.elem "cdylib" crateTypes) then
      throw "${who s}: ${package} is not a cdylib; add `crate-type = [\"cdylib\"]` to [lib] in its Cargo.toml"
    else if theirs != null && theirs != channel then
      throw "${who s}: its rust-toolchain.toml names channel ${builtins.toJSON theirs}, this flake builds with ${channel}; the fingerprint contains the compiler release, so set channel = \"${channel}\" there (a plugin built by cargo with another rustc would be refused)"
    else
      {
        inherit (s) name src;
        inherit package libName version;
        file = "lib${libName}.so";
        cargoLock = s.cargoLock or null;
        outputHashes = s.outputHashes or { };
        buildInputs = s.buildInputs or [ ];
        nativeBuildInputs = s.nativeBuildInputs or [ ];
        cargoExtraArgs = s.cargoExtraArgs or "";
      };
in
{
  inherit
    required
    optional
    checkSpec
    describe
    ;

  # mkStoragePlugin's argument, one plugin or a list, as a list of checked specs.
  specs = arg: map checkSpec (if builtins.isList arg then arg else [ arg ]);
}
