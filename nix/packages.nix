# Everything the flake builds, as one package set (pkgs.clusterpedia after
# overlays.default). One crane workspace build produces the components and every plugin, so
# they share the toolchain, the Cargo.lock and one feature resolution, and therefore the
# plugin build fingerprint.
#
# extraPlugins / cargoLock: third-party plugin crates added to the workspace by
# lib.mkStoragePlugin (see flake.nix), built together with the components.
{
  lib,
  pkgs,
  crane,
  runCommand,
  writeText,
  makeWrapper,
  jq,
  dockerTools,
  pkgsStatic,
  src,
  extraPlugins ? [ ],
  cargoLock ? null,
}:
let
  nixLib = import ./lib;
  images = import ./images.nix {
    inherit lib dockerTools pkgsStatic nixLib;
  };

  toolchainFile = src + "/rust-toolchain.toml";
  craneLib = (crane.mkLib pkgs).overrideToolchain (p: p.rust-bin.fromRustupToolchainFile toolchainFile);

  workspaceToml = builtins.readFile (src + "/Cargo.toml");
  version = (builtins.fromTOML workspaceToml).workspace.package.version;

  # The plugins of this repository that ship (plugins/test-* exist only to be refused by
  # the loader's tests), and the third-party ones.
  inTreePlugins = [
    {
      name = "sample-storage-layer";
      file = "libsample_storage.so";
    }
  ];
  pluginSpecs = nixLib.plugins.validate (
    inTreePlugins ++ map (p: { inherit (p) name file; }) extraPlugins
  );

  components = nixLib.images.components ++ [ "pedia" ];

  # The source: the Rust workspace plus charts/ (a test embeds the generated CRDs).
  baseSrc = lib.fileset.toSource {
    root = src;
    fileset = lib.fileset.unions [
      (src + "/Cargo.toml")
      (src + "/Cargo.lock")
      (src + "/rust-toolchain.toml")
      (src + "/.cargo")
      (src + "/crates")
      (src + "/plugins")
      (src + "/charts")
    ];
  };
  lockFile = if cargoLock == null then src + "/Cargo.lock" else cargoLock;
  fullSrc =
    if extraPlugins == [ ] then
      baseSrc
    else
      # The third-party crates join the workspace; their Cargo.lock (generated for this
      # workspace plus them) replaces ours. crane reads Cargo.toml files of a derived source
      # at evaluation time, so this path uses import-from-derivation.
      runCommand "clusterpedia-rs-src-${version}" { } ''
        cp -r ${baseSrc} $out
        chmod -R u+w $out
        ${lib.concatMapStrings (p: ''
          cp -r ${p.src} $out/${nixLib.workspace.memberOf p.dir}
        '') extraPlugins}
        cp ${writeText "Cargo.toml" (nixLib.workspace.addMembers workspaceToml (map (p: p.dir) extraPlugins))} $out/Cargo.toml
        cp ${lockFile} $out/Cargo.lock
      '';

  common = {
    src = fullSrc;
    pname = "clusterpedia-rs";
    inherit version;
    strictDeps = true;
    cargoVendorDir = craneLib.vendorCargoDeps { cargoLock = lockFile; };
    # The whole workspace in one build, as `cargo xtask dist` does: one feature resolution
    # for the components and every plugin.
    cargoExtraArgs = "--locked --workspace";
  };

  cargoArtifacts = craneLib.buildDepsOnly common;

  workspace = craneLib.buildPackage (
    common
    // {
      inherit cargoArtifacts;
      # checks.tests runs the tests.
      doCheck = false;
      installPhaseCommand = ''
        target="''${CARGO_TARGET_DIR:-target}/release"
        ${lib.concatMapStrings (c: ''
          install -Dm755 "$target/${c}" "$out/bin/${c}"
        '') components}
        ${lib.concatMapStrings (p: ''
          install -Dm755 "$target/${p.file}" "$out/lib/${p.file}"
        '') pluginSpecs}
      '';
    }
  );

  # What every installed plugin's fingerprint must contain, known from the source alone.
  expectedFingerprint = nixLib.fingerprint.expected {
    rustToolchainToml = builtins.readFile toolchainFile;
    workspaceCargoToml = workspaceToml;
    system = pkgs.stdenv.hostPlatform.system;
  };

  pedia = component "pedia";

  # A directory of plugins with the manifest.json the components verify: the installed
  # files, their fingerprints checked against this flake's expectations, the manifest
  # written by `pedia plugin manifest` (the verifier's own code, hashing the installed
  # bytes) and then verified like a component does at start-up.
  mkPluginDir =
    plugins:
    let
      wanted = nixLib.plugins.validate (
        map (p: {
          name = p.pluginName;
          file = p.pluginFile;
        }) plugins
      );
      expectedEntries = builtins.toJSON (builtins.sort (a: b: a.file < b.file) wanted);
    in
    runCommand "clusterpedia-plugins-${version}"
      {
        nativeBuildInputs = [
          pedia
          jq
        ];
        passthru.plugins = wanted;
      }
      ''
        mkdir -p $out
        ${lib.concatMapStrings (p: ''
          cp ${p}/lib/${p.pluginFile} $out/${p.pluginFile}
        '') plugins}
        for f in $out/*.so; do
          [ -e "$f" ] || continue
          fp=$(pedia plugin inspect "$f" | sed -n 's/^fingerprint: *//p')
          for part in ${lib.escapeShellArgs (nixLib.fingerprint.requiredParts expectedFingerprint)}; do
            case "$fp" in
              *"$part"*) ;;
              *) echo "plugin $(basename "$f") has fingerprint $fp, which lacks $part: build it with this flake (lib.mkStoragePlugin) and its toolchain" >&2; exit 1 ;;
            esac
          done
        done
        pedia plugin manifest $out
        pedia plugin verify $out
        actual=$(jq -c '[.plugins[] | {file, name}] | sort_by(.file)' $out/manifest.json)
        if [ "$actual" != ${lib.escapeShellArg expectedEntries} ]; then
          echo "manifest lists $actual, expected ${lib.escapeShellArg expectedEntries}" >&2
          exit 1
        fi
      '';

  pluginPackage =
    spec:
    runCommand "${spec.name}-${version}"
      {
        passthru = {
          pluginName = spec.name;
          pluginFile = spec.file;
        };
        meta.description = "The ${spec.name} storage plugin (${spec.file})";
      }
      ''
        install -Dm755 ${workspace}/lib/${spec.file} $out/lib/${spec.file}
      '';

  # Plugin packages by storage-layer name: the `ps` of withPlugins.
  plugins = builtins.listToAttrs (
    map (spec: {
      inherit (spec) name;
      value = pluginPackage spec;
    }) pluginSpecs
  );

  # `name` wrapped so that STORAGE_PLUGINS names a verified directory of the chosen plugins:
  # apiserver.withPlugins (ps: [ ps.sample-storage-layer ]).
  withPluginsFor =
    name: unwrapped: choose:
    let
      dir = mkPluginDir (choose plugins);
    in
    runCommand "${name}-with-plugins-${version}"
      {
        nativeBuildInputs = [ makeWrapper ];
        meta.mainProgram = name;
        passthru = {
          pluginDir = dir;
          inherit unwrapped;
        };
      }
      ''
        makeWrapper ${unwrapped}/bin/${name} $out/bin/${name} --set STORAGE_PLUGINS ${dir}
      '';

  component =
    name:
    let
      self = runCommand "${name}-${version}" {
        meta.mainProgram = name;
        passthru.withPlugins = withPluginsFor name self;
      } ''
        install -Dm755 ${workspace}/bin/${name} $out/bin/${name}
      '';
    in
    self;

  componentPackages = lib.genAttrs components component;
in
componentPackages
// {
  inherit
    version
    workspace
    cargoArtifacts
    plugins
    mkPluginDir
    expectedFingerprint
    ;

  # Every shipped plugin in one verified directory.
  allPlugins = mkPluginDir (builtins.attrValues plugins);

  images =
    lib.genAttrs nixLib.images.components (
      name: images.component { inherit name version; package = componentPackages.${name}; }
    )
    // lib.mapAttrs (
      name: p:
      images.plugin {
        inherit name version;
        pluginDir = mkPluginDir [ p ];
      }
    ) plugins;

  checks = {
    clippy = craneLib.cargoClippy (
      common
      // {
        inherit cargoArtifacts;
        cargoClippyExtraArgs = "--all-targets -- -D warnings";
      }
    );
    fmt = craneLib.cargoFmt { src = fullSrc; };
    # Unit tests. The integration tests need PostgreSQL, MariaDB and kubectl on the host,
    # which the build sandbox does not have; .ci/run runs them.
    tests = craneLib.cargoTest (
      common
      // {
        inherit cargoArtifacts;
        cargoTestExtraArgs = "--lib";
      }
    );
  };

  devShell = craneLib.devShell {
    packages = [
      pkgs.kubectl
      pkgs.kubernetes-helm
      pkgs.umoci
      pkgs.podman
      pkgs.jq
    ];
  };
}
