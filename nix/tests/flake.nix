# nix-instantiate --eval --strict nix/tests/flake.nix
# Evaluates flake.nix and nix/packages.nix against the strict stand-ins for nixpkgs, crane
# and rust-overlay (stubs/), which cannot be fetched here: every output down to its
# derivation, one workspace build for the components and shipped plugins, the plugin
# directory with its verified manifest, withPlugins, images and checks, and out-of-tree
# plugins via lib.mkStoragePlugin, each from its own source and Cargo.lock. Building for
# real needs Nix with network access.
let
  inherit (import ./harness.nix) run throws;
  outputs = import ./stubs { };
  system = "x86_64-linux";
  packages = outputs.packages.${system};
  checks = outputs.checks.${system};
  contains = needle: haystack: builtins.match ".*${needle}.*" (builtins.replaceStrings [ "\n" ] [ " " ] haystack) != null;
  version = (builtins.fromTOML (builtins.readFile ../../Cargo.toml)).workspace.package.version;
  toolchainToml = (builtins.fromTOML (builtins.readFile ../../rust-toolchain.toml)).toolchain;
  rustc = toolchainToml.channel;

  fixtures = ./fixtures/plugins;
  alpha = {
    name = "alpha-storage-layer";
    src = fixtures + "/alpha";
  };
  beta = {
    name = "beta-storage-layer";
    src = fixtures + "/beta";
  };
  # Out-of-tree plugins as a plugin flake gets them (lib.eachSystem over mkStoragePlugin).
  withPlugins = arg: (outputs.lib.eachSystem (outputs.lib.mkStoragePlugin arg) (c: c)).${system};
  third = withPlugins [
    alpha
    (
      beta
      // {
        buildInputs = [ outputs.legacyPackages.${system}.sqlite ];
        nativeBuildInputs = [ outputs.legacyPackages.${system}.pkg-config ];
      }
    )
  ];
  # The same two plugins from two overlays.
  composed =
    (outputs.lib.eachSystem ((import ./stubs/lib.nix).composeManyExtensions [
      (outputs.lib.mkStoragePlugin alpha)
      (outputs.lib.mkStoragePlugin beta)
    ]) (c: c)).${system};

  isDrv = v: builtins.isAttrs v && (v.type or null) == "derivation";
  drvPaths = set: map (v: v.drvPath) (builtins.filter isDrv (builtins.attrValues set));
  wellFormed = p: builtins.match "/nix/store/[0-9a-z]{32}-.*\\.drv" p != null;
  # Derivations `s` depends on (string context).
  dependsOn = s: builtins.attrNames (builtins.getContext s);
  # Whether a crane source is read without building anything (no import from derivation).
  sourceOnly = src: builtins.all (k: !((builtins.getContext (toString src)).${k} ? outputs)) (dependsOn (toString src));

  image = packages.apiserver-image.imageArgs;
  pluginImage = packages.sample-storage-layer-image.imageArgs;
  a = third.plugins.alpha-storage-layer;
  b = third.plugins.beta-storage-layer;
in
run "flake" [
  {
    name = "packages";
    actual = builtins.attrNames packages;
    expected = [
      "apiserver"
      "apiserver-image"
      "apiserver-with-plugins"
      "binding-apiserver"
      "binding-apiserver-image"
      "clustersynchro-manager"
      "clustersynchro-manager-image"
      "clustersynchro-manager-with-plugins"
      "default"
      "pedia"
      "plugins"
      "sample-storage-layer"
      "sample-storage-layer-image"
      "workspace"
    ];
  }
  {
    name = "every output of both systems is a real derivation";
    actual =
      let
        perSystem = s: [
          outputs.packages.${s}
          outputs.checks.${s}
          outputs.devShells.${s}
          { f = outputs.formatter.${s}; }
          outputs.legacyPackages.${s}.clusterpedia.images
        ];
        all = builtins.concatMap drvPaths (perSystem "x86_64-linux" ++ perSystem "aarch64-linux");
      in
      {
        count = builtins.length all;
        malformed = builtins.filter (p: !wellFormed p) all;
        # aarch64 builds are derivations of their own.
        distinct = packages.workspace.drvPath != outputs.packages.aarch64-linux.workspace.drvPath;
      };
    expected = {
      count = 2 * (14 + 5 + 1 + 1 + 4);
      malformed = [ ];
      distinct = true;
    };
  }
  {
    name = "overlays.default adds rust-overlay and the package set";
    actual =
      let
        pkgs = outputs.legacyPackages.${system};
      in
      {
        rust = pkgs ? rust-bin;
        set = pkgs.clusterpedia.apiserver.drvPath == packages.apiserver.drvPath;
      };
    expected = {
      rust = true;
      set = true;
    };
  }
  {
    name = "the toolchain is rust-toolchain.toml's, through rust-overlay";
    actual = {
      inherit (packages.workspace.craneToolchain) name;
      components = packages.workspace.craneToolchain.components;
    };
    expected = {
      name = "rust-${toolchainToml.profile}-${rustc}";
      components = builtins.concatStringsSep " " toolchainToml.components;
    };
  }
  {
    name = "one locked workspace build with shared dependency artifacts, naming its workspace for the fingerprint";
    actual = {
      args = packages.workspace.craneArgs.cargoExtraArgs;
      deps = packages.workspace.cargoArtifacts.craneFunction;
      shared = map (c: c.cargoArtifacts.drvPath == packages.workspace.cargoArtifacts.drvPath) [
        checks.clippy
        checks.tests
      ];
      workspaceEnv = map (d: contains "export PEDIA_BUILD_WORKSPACE=\"\\$PWD\"" d.preBuild) [
        packages.workspace
        packages.workspace.cargoArtifacts
        checks.clippy
        checks.tests
      ];
      vendored = builtins.elem "abi_stable ${
        (builtins.head (builtins.filter (p: p.name == "abi_stable") (builtins.fromTOML (builtins.readFile ../../Cargo.lock)).package)).version
      }" packages.workspace.cargoVendorDir.lockPackages;
      noIfd = sourceOnly packages.workspace.craneArgs.src;
    };
    expected = {
      args = "--locked --workspace";
      deps = "craneLib.buildDepsOnly";
      shared = [
        true
        true
      ];
      workspaceEnv = [
        true
        true
        true
        true
      ];
      vendored = true;
      noIfd = true;
    };
  }
  {
    name = "one workspace build installs every component and shipped plugin";
    actual = map (n: contains n packages.workspace.craneArgs.installPhaseCommand) [
      "\"\\$target/apiserver\""
      "\"\\$target/clustersynchro-manager\""
      "\"\\$target/binding-apiserver\""
      "\"\\$target/pedia\""
      "libsample_storage.so"
    ];
    expected = [
      true
      true
      true
      true
      true
    ];
  }
  {
    name = "the plugin directory: fingerprints checked, manifest written and verified by pedia";
    actual = map (n: contains n packages.plugins.buildCommand) [
      "cp /nix/store/[^ ]*-sample-storage-layer-${version}/lib/libsample_storage.so"
      "api=${version};"
      "rustc=${rustc};"
      "pedia plugin manifest \\$out"
      "pedia plugin verify \\$out"
    ];
    expected = [
      true
      true
      true
      true
      true
    ];
  }
  {
    name = "the manifest must list exactly the validated plugins";
    actual = packages.plugins.plugins;
    expected = [
      {
        name = "sample-storage-layer";
        file = "libsample_storage.so";
      }
    ];
  }
  {
    name = "withPlugins wraps the binary with STORAGE_PLUGINS set to a verified directory";
    actual = {
      wrapped = contains "makeWrapper /nix/store/[^ ]*-apiserver-${version}/bin/apiserver \\$out/bin/apiserver --set STORAGE_PLUGINS /nix/store/[^ ]*-clusterpedia-plugins-${version}" packages.apiserver-with-plugins.buildCommand;
      main = packages.apiserver-with-plugins.meta.mainProgram;
      dir = packages.apiserver-with-plugins.pluginDir.plugins;
    };
    expected = {
      wrapped = true;
      main = "apiserver";
      dir = packages.plugins.plugins;
    };
  }
  {
    name = "component images: the binary where the charts call it, a fixed creation time";
    actual = {
      inherit (image) created tag;
      entrypoint = image.config.Entrypoint;
      link = contains "ln -s /nix/store/[^ ]*-apiserver-${version}/bin/apiserver ./usr/local/bin/apiserver" image.extraCommands;
    };
    expected = {
      created = "1970-01-01T00:00:01Z";
      tag = version;
      entrypoint = [ "/usr/local/bin/apiserver" ];
      link = true;
    };
  }
  {
    name = "plugin images: /plugins with the manifest, and busybox for the init container";
    actual = {
      copy = contains "cp /nix/store/[^ ]*-clusterpedia-plugins-${version}/\\* ./plugins/" pluginImage.extraCommands;
      shell = map (p: p.pname) pluginImage.contents;
      label = pluginImage.config.Labels."io.clusterpedia.storage-layer";
    };
    expected = {
      copy = true;
      shell = [ "busybox-static" ];
      label = "sample-storage-layer";
    };
  }
  {
    name = "checks";
    actual = builtins.attrNames checks;
    expected = [
      "clippy"
      "fmt"
      "nix-lib"
      "plugins"
      "tests"
    ];
  }
  {
    name = "mkStoragePlugin: each plugin from its own source and Cargo.lock, with the components' toolchain";
    actual = {
      plugins = builtins.attrNames third.plugins;
      sources = map (p: p.craneArgs.src) [
        a
        b
      ];
      locks = map (p: builtins.filter (n: builtins.match "(alpha|beta)-storage .*" n != null) p.cargoVendorDir.lockPackages) [
        a
        b
      ];
      depsLocks = map (p: p.cargoArtifacts.cargoVendorDir.drvPath == p.cargoVendorDir.drvPath) [
        a
        b
      ];
      args = map (p: p.craneArgs.cargoExtraArgs) [
        a
        b
      ];
      toolchain = map (p: p.craneToolchain.drvPath == packages.workspace.craneToolchain.drvPath) [
        a
        b
        a.cargoArtifacts
      ];
      workspaceEnv = map (p: contains "export PEDIA_BUILD_WORKSPACE=\"\\$PWD\"" p.preBuild) [
        a
        a.cargoArtifacts
        b
      ];
      noIfd = map (p: sourceOnly p.craneArgs.src) [
        a
        b
      ];
    };
    expected = {
      plugins = [
        "alpha-storage-layer"
        "beta-storage-layer"
        "sample-storage-layer"
      ];
      sources = [
        alpha.src
        beta.src
      ];
      locks = [
        [ "alpha-storage 0.3.0" ]
        [ "beta-storage 2.1.0" ]
      ];
      depsLocks = [
        true
        true
      ];
      args = [
        "--locked --package alpha-storage --lib "
        "--locked --package beta-storage --lib "
      ];
      toolchain = [
        true
        true
        true
      ];
      workspaceEnv = [
        true
        true
        true
      ];
      noIfd = [
        true
        true
      ];
    };
  }
  {
    name = "mkStoragePlugin: the build installs the cdylib and refuses it unless pedia (of these components) accepts it";
    actual = {
      installs = map (p: contains "release/${p.pluginFile}\" \"\\$out/lib/${p.pluginFile}\"" p.craneArgs.installPhaseCommand) [
        a
        b
      ];
      checked = map (p: contains "pedia plugin manifest \\$check " p.postInstall && contains "registers the storage layer" p.postInstall) [
        a
        b
      ];
      withPedia = builtins.elem packages.pedia.drvPath (dependsOn (toString a.nativeBuildInputs));
      name = contains "!= '?${alpha.name}'? " a.postInstall;
      links = map (p: p.pname) b.buildInputs;
    };
    expected = {
      installs = [
        true
        true
      ];
      checked = [
        true
        true
      ];
      withPedia = true;
      name = true;
      links = [ "sqlite" ];
    };
  }
  {
    name = "mkStoragePlugin: a Cargo.lock outside src replaces the plugin's, for vendoring and the build";
    actual =
      let
        lock = fixtures + "/beta/Cargo.lock";
        p = (withPlugins (alpha // { cargoLock = lock; })).plugins.alpha-storage-layer;
      in
      {
        vendored = p.cargoVendorDir.craneArgs.cargoLock == lock;
        packages = builtins.filter (n: builtins.match "(alpha|beta)-storage .*" n != null) p.cargoVendorDir.lockPackages;
        build = map (d: d.craneArgs.cargoLock == lock) [
          p
          p.cargoArtifacts
        ];
      };
    expected = {
      vendored = true;
      packages = [ "beta-storage 2.1.0" ];
      build = [
        true
        true
      ];
    };
  }
  {
    name = "mkStoragePlugin: one plugin set, the workspace untouched, the same from one list or two overlays";
    actual = {
      dir = map (p: p.file) third.allPlugins.plugins;
      workspace = third.workspace.drvPath == packages.workspace.drvPath;
      composed = builtins.attrNames composed.plugins == builtins.attrNames third.plugins;
      alpha = composed.plugins.alpha-storage-layer.drvPath == (withPlugins alpha).plugins.alpha-storage-layer.drvPath;
    };
    expected = {
      dir = [
        "libalpha_storage.so"
        "libbeta_sqlite.so"
        "libsample_storage.so"
      ];
      workspace = true;
      composed = true;
      alpha = true;
    };
  }
  {
    name = "images hold the runtime closure of every plugin of the set";
    actual =
      let
        label = i: i.imageArgs.config.Labels."io.clusterpedia.plugin-builds";
      in
      {
        component = map (p: builtins.elem p.drvPath (dependsOn (label third.images.apiserver))) [
          a
          b
          third.plugins.sample-storage-layer
        ];
        paths = builtins.length (builtins.split " " (label third.images.clustersynchro-manager));
        plugin = dependsOn (label third.images.beta-storage-layer) == [ b.drvPath ];
      };
    expected = {
      component = [
        true
        true
        true
      ];
      paths = 5;
      plugin = true;
    };
  }
  {
    name = "mkStoragePlugin refuses a taken storage name, another compiler, an unknown attribute";
    actual = map (arg: throws (withPlugins arg).plugins) [
      (alpha // { name = "sample-storage-layer"; })
      [
        alpha
        (beta // { name = alpha.name; })
      ]
      {
        name = "old";
        src = fixtures + "/old-toolchain";
      }
      (alpha // { cargolock = alpha.src + "/Cargo.lock"; })
    ];
    expected = [
      true
      true
      true
      true
    ];
  }
]
