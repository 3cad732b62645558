# Everything the flake builds, as one package set (pkgs.clusterpedia after
# overlays.default). One crane workspace build produces the components and this
# repository's plugins, so they share the toolchain, the Cargo.lock and one feature
# resolution, and therefore the plugin build fingerprint.
#
# extraPlugins: out-of-tree plugins added by lib.mkStoragePlugin (flake.nix), each built
# from its own source and its own Cargo.lock with the same toolchain, and refused at build
# time unless its fingerprint section equals the components'.
{
  lib,
  pkgs,
  stdenv,
  crane,
  runCommand,
  makeWrapper,
  jq,
  dockerTools,
  pkgsStatic,
  src,
  extraPlugins ? [ ],
}:
let
  nixLib = import ./lib;
  images = import ./images.nix {
    inherit lib dockerTools pkgsStatic nixLib;
  };

  toolchainFile = src + "/rust-toolchain.toml";
  rustToolchainToml = builtins.readFile toolchainFile;
  workspaceToml = builtins.readFile (src + "/Cargo.toml");
  version = (builtins.fromTOML workspaceToml).workspace.package.version;

  # What every installed plugin's fingerprint must contain, known from the source alone; it
  # also stops evaluation unless rust-toolchain.toml names one exact release.
  expectedFingerprint = nixLib.fingerprint.expected {
    inherit rustToolchainToml;
    apiCargoToml = builtins.readFile (src + "/crates/pedia-plugin-api/Cargo.toml");
    workspaceCargoToml = workspaceToml;
    system = stdenv.hostPlatform.system;
  };

  # One toolchain, rust-toolchain.toml's, for the components and every plugin.
  craneLib = (crane.mkLib pkgs).overrideToolchain (
    p: builtins.seq expectedFingerprint.rustc (p.rust-bin.fromRustupToolchainFile toolchainFile)
  );

  # pedia-plugin-api's build script computes the fingerprint from `cargo metadata` of the
  # workspace PEDIA_BUILD_WORKSPACE names. A workspace's .cargo/config.toml normally sets it;
  # crane runs cargo from the source root, so this names the same directory also for a
  # plugin without that file. `cargo metadata --offline` works there because crane vendors
  # every package of Cargo.lock, whatever its platform, and configures the vendored
  # sources in $CARGO_HOME/config.toml, which the build script's cargo inherits.
  exportBuildWorkspace = ''
    export PEDIA_BUILD_WORKSPACE="$PWD"
  '';

  # The plugins of this repository that ship (plugins/test-* exist only to be refused by
  # the loader's tests).
  inTreePlugins = [
    {
      name = "sample-storage-layer";
      file = "libsample_storage.so";
    }
  ];

  # Out-of-tree plugins, described from their own files (nix/lib/external.nix). `src` is
  # read at evaluation time, so it must be a path or a flake's source, not a derivation.
  fileOf = p: name: if builtins.isPath p.src then p.src + "/${name}" else "${p.src}/${name}";
  external = map (
    spec:
    let
      s = nixLib.external.checkSpec spec;
      toolchain = fileOf s "rust-toolchain.toml";
    in
    nixLib.external.describe {
      spec = s;
      cargoToml = builtins.readFile (fileOf s "Cargo.toml");
      toolchainToml = if builtins.pathExists toolchain then builtins.readFile toolchain else null;
      channel = expectedFingerprint.rustc;
    }
  ) extraPlugins;

  pluginSpecs = nixLib.plugins.validate (
    inTreePlugins ++ map (p: { inherit (p) name file; }) external
  );

  components = nixLib.images.components ++ [ "pedia" ];

  # The source: the Rust workspace plus charts/ (a test embeds the generated CRDs).
  workspaceSrc = lib.fileset.toSource {
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

  common = {
    src = workspaceSrc;
    pname = "clusterpedia-rs";
    inherit version;
    strictDeps = true;
    cargoVendorDir = craneLib.vendorCargoDeps { src = workspaceSrc; };
    # The whole workspace in one build, as `cargo xtask dist` does: one feature resolution
    # for the components and every plugin.
    cargoExtraArgs = "--locked --workspace";
    preBuild = exportBuildWorkspace;
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
        '') inTreePlugins}
      '';
    }
  );

  pedia = component "pedia";

  # Fails the build, naming the file and what differs, unless the plugin file in `dir`
  # carries exactly the components' fingerprint section and registers `name`: the checks
  # `pedia plugin manifest` runs, with the pedia built together with the components.
  checkPlugin =
    {
      dir,
      name,
      file,
    }:
    ''
      if ! pedia plugin manifest ${dir} >${dir}.log 2>&1; then
        cat ${dir}.log >&2
        echo "storage plugin ${name} (${file}) does not match the components this clusterpedia flake builds: its Cargo.lock must resolve pedia-plugin-api and its dependencies exactly as theirs (pedia plugin lock --against <this flake's apiserver>)" >&2
        exit 1
      fi
      registered=$(jq -r '.plugins[0].name' ${dir}/manifest.json)
      if [ "$registered" != ${lib.escapeShellArg name} ]; then
        echo "${file} registers the storage layer \"$registered\", but it is declared as ${lib.escapeShellArg name}" >&2
        exit 1
      fi
    '';

  # An out-of-tree plugin: its own source and Cargo.lock (crane vendors it), the
  # components' toolchain, only its cdylib; the installed file is checked against the
  # components before the package exists.
  externalPackage =
    p:
    let
      args = {
        pname = p.package;
        inherit (p) version src;
        strictDeps = true;
        cargoVendorDir = craneLib.vendorCargoDeps (
          {
            inherit (p) src;
          }
          // lib.optionalAttrs (p.cargoLock != null) { inherit (p) cargoLock; }
          // lib.optionalAttrs (p.outputHashes != { }) { inherit (p) outputHashes; }
        );
        cargoExtraArgs = "--locked --package ${p.package} --lib ${p.cargoExtraArgs}";
        inherit (p) buildInputs nativeBuildInputs;
        doCheck = false;
        preBuild = exportBuildWorkspace;
      }
      // lib.optionalAttrs (p.cargoLock != null) { inherit (p) cargoLock; };
    in
    craneLib.buildPackage (
      args
      // {
        cargoArtifacts = craneLib.buildDepsOnly args;
        nativeBuildInputs = p.nativeBuildInputs ++ [
          pedia
          jq
        ];
        installPhaseCommand = ''
          install -Dm755 "''${CARGO_TARGET_DIR:-target}/release/${p.file}" "$out/lib/${p.file}"
        '';
        postInstall = ''
          check=$(mktemp -d)
          cp "$out/lib/${p.file}" "$check/"
          ${checkPlugin {
            dir = "$check";
            inherit (p) name file;
          }}
        '';
        passthru = {
          pluginName = p.name;
          pluginFile = p.file;
        };
        meta.description = "The ${p.name} storage plugin (${p.file}), built for clusterpedia-rs ${version}";
      }
    );

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
        passthru = {
          plugins = wanted;
          packages = plugins;
        };
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
            case "$fp;" in
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

  inTreePackage =
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

  # Plugin packages by storage-layer name: the `ps` of withPlugins. Names and files are
  # validated first, as a component would refuse two plugins of one name.
  plugins = builtins.seq pluginSpecs (
    builtins.listToAttrs (
      map (spec: {
        inherit (spec) name;
        value = inTreePackage spec;
      }) inTreePlugins
      ++ map (p: {
        inherit (p) name;
        value = externalPackage p;
      }) external
    )
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

  # Every plugin of the set (shipped and added) in one verified directory.
  allPlugins = mkPluginDir (builtins.attrValues plugins);

  # Component images hold the runtime closure of every plugin of the set, so a plugin
  # copied in from its image (the charts' init container) finds the libraries it links.
  images =
    lib.genAttrs nixLib.images.components (
      name:
      images.component {
        inherit name version;
        package = componentPackages.${name};
        plugins = builtins.attrValues plugins;
      }
    )
    // lib.mapAttrs (
      name: p:
      images.plugin {
        inherit name version;
        pluginDir = mkPluginDir [ p ];
        plugins = [ p ];
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
    fmt = craneLib.cargoFmt {
      inherit (common) src pname version;
    };
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
