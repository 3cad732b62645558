# nix-instantiate --eval --strict nix/tests/flake.nix
# Evaluates flake.nix and nix/packages.nix against stand-ins for nixpkgs, crane and
# rust-overlay (stubs/), which cannot be fetched here, and checks what would be built:
# the packages and images, one workspace build shared by everything, the plugin directory
# with its verified manifest, withPlugins, checks, and third-party plugins via
# lib.mkStoragePlugin. Building for real needs Nix with network access.
let
  inherit (import ./harness.nix) run throws mentions;
  stubLib = import ./stubs/lib.nix;
  nixpkgs = {
    outPath = ./stubs/nixpkgs;
    lib = stubLib;
  };
  crane = import ./stubs/crane.nix;
  rust-overlay = import ./stubs/rust-overlay.nix;
  flake = import ../../flake.nix;
  outputs = flake.outputs {
    self = outputs;
    inherit nixpkgs crane rust-overlay;
  };
  packages = outputs.packages.x86_64-linux;
  contains = needle: haystack: builtins.match ".*${needle}.*" (builtins.replaceStrings [ "\n" ] [ " " ] haystack) != null;
  version = (builtins.fromTOML (builtins.readFile ../../Cargo.toml)).workspace.package.version;
  rustc = (builtins.fromTOML (builtins.readFile ../../rust-toolchain.toml)).toolchain.channel;

  # A third-party plugin through the overlay mkStoragePlugin returns.
  withThirdParty =
    name:
    import nixpkgs {
      system = "x86_64-linux";
      overlays = [
        outputs.overlays.default
        (outputs.lib.mkStoragePlugin {
          inherit name;
          src = ../../plugins/sample-storage;
          dir = "my-storage";
          libName = "my_storage";
          cargoLock = ../../Cargo.lock;
        })
      ];
    };
  third = (withThirdParty "my-storage-layer").clusterpedia;
  image = packages.apiserver-image.imageArgs;
  pluginImage = packages.sample-storage-layer-image.imageArgs;
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
    name = "one workspace build installs every component and plugin";
    actual = map (n: contains n packages.workspace.installPhaseCommand) [
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
    name = "the whole workspace, locked, with shared dependency artifacts";
    actual = {
      args = packages.workspace.cargoExtraArgs;
      shared = packages.workspace.cargoArtifacts.builder;
      clippy = outputs.checks.x86_64-linux.clippy.cargoArtifacts.builder;
    };
    expected = {
      args = "--locked --workspace";
      shared = "buildDepsOnly";
      clippy = "buildDepsOnly";
    };
  }
  {
    name = "the plugin directory: fingerprints checked, manifest written and verified by pedia";
    actual = map (n: contains n packages.plugins.script) [
      "cp /nix/store/[^ ]*-sample-storage-layer-${version}/lib/libsample_storage.so"
      "'api=${version};'"
      "'rustc=${rustc};'"
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
      wrapped = contains "makeWrapper /nix/store/[^ ]*-apiserver-${version}/bin/apiserver \\$out/bin/apiserver --set STORAGE_PLUGINS /nix/store/[^ ]*-clusterpedia-plugins-${version}" packages.apiserver-with-plugins.script;
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
      shell = map (p: p.name) pluginImage.contents;
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
    actual = builtins.attrNames outputs.checks.x86_64-linux;
    expected = [
      "clippy"
      "fmt"
      "nix-lib"
      "plugins"
      "tests"
    ];
  }
  {
    name = "mkStoragePlugin adds the crate to the workspace and the plugin set";
    actual = {
      plugins = builtins.attrNames third.plugins;
      member = contains "plugins/my-storage" third.workspace.src.script;
      installs = contains "libmy_storage.so" third.workspace.installPhaseCommand;
    };
    expected = {
      plugins = [
        "my-storage-layer"
        "sample-storage-layer"
      ];
      member = true;
      installs = true;
    };
  }
  {
    name = "a third-party plugin may not take a name already in the set";
    actual = throws (withThirdParty "sample-storage-layer").clusterpedia.workspace.installPhaseCommand;
    expected = true;
  }
]
