{
  description = "Clusterpedia-rs: multi-cluster Kubernetes search with verified native storage plugins";

  # Exact revisions, so the first `nix flake lock` is deterministic; README ("Nix") says how
  # to move them. nixpkgs: nixos-26.05 (crane needs at least 26.05); rust-overlay: a
  # revision whose manifests include rust-toolchain.toml's channel.
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/531670d871c0e29724a02f3cbcac170adc65b58c";
    crane.url = "github:ipetkov/crane/2c71e194474d13de031d729b729c968ddbe3507f";
    rust-overlay = {
      url = "github:oxalica/rust-overlay/fd2ebb9cc4323d0c5a1336138dab5c3c5a5d8bd9";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      crane,
      rust-overlay,
    }:
    let
      inherit (nixpkgs) lib;
      nixLib = import ./nix/lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      pkgsWith =
        overlays: system:
        import nixpkgs {
          inherit system;
          overlays = [ self.overlays.default ] ++ overlays;
        };
      forSystems = f: lib.genAttrs systems (system: f self.legacyPackages.${system});
      # The pure functions' unit tests (nix/tests), also run by `nix-instantiate` in CI.
      nixTests = map (t: import (./nix/tests + "/${t}.nix")) [
        "fingerprint"
        "plugins"
        "external"
        "manifest"
        "images"
      ];
    in
    {
      # pkgs.clusterpedia: every package below, built with the toolchain of
      # rust-toolchain.toml (rust-overlay) and crane.
      overlays.default = lib.composeManyExtensions [
        rust-overlay.overlays.default
        (final: prev: {
          clusterpedia = final.callPackage ./nix/packages.nix {
            inherit crane;
            src = ./.;
            extraPlugins = [ ];
          };
        })
      ];

      # nixpkgs (this flake's pinned revision) with overlays.default.
      legacyPackages = lib.genAttrs systems (pkgsWith [ ]);

      lib = nixLib // {
        inherit systems;

        # Out-of-tree storage plugins, as an overlay over overlays.default. Each plugin is
        # built from its own source with its own Cargo.lock (vendored by crane, no
        # import-from-derivation) and this flake's toolchain, and its build fails unless the
        # plugin's fingerprint section equals the components' (`pedia plugin manifest`
        # names the crate that differs). It then is one more plugin of pkgs.clusterpedia:
        # plugins.<name>, allPlugins, withPlugins, images.<name>, and the component images
        # hold its runtime closure.
        #
        #   clusterpedia.lib.mkStoragePlugin {
        #     name = "my-storage-layer";  # the storage-layer name it registers (checked)
        #     src = self;                 # its workspace root: Cargo.toml, Cargo.lock, src/
        #     # optional:
        #     cargoLock = ./Cargo.lock;   # default: src/Cargo.lock
        #     package = "my-storage";     # default: [package] name of src/Cargo.toml
        #     libName = "my_storage";     # default: its [lib] name; the file is lib<libName>.so
        #     buildInputs = [ pkgs.sqlite ];   # C libraries it links (kept in the images)
        #     nativeBuildInputs = [ pkgs.pkg-config ];
        #     cargoExtraArgs = "--features x";
        #     outputHashes = { };         # crane's, for git dependencies without a network at evaluation
        #   }
        #
        # or a list of such plugins. The plugin's Cargo.lock must resolve pedia-plugin-api
        # (from git, at this flake's revision) and its dependencies as this workspace does:
        # `pedia plugin lock --against <binary|manifest|Cargo.lock>` pins it.
        mkStoragePlugin =
          plugins: final: prev:
          let
            added = nixLib.external.specs plugins;
          in
          {
            clusterpedia = prev.clusterpedia.override (old: {
              extraPlugins = old.extraPlugins ++ added;
            });
          };

        # A plugin flake's per-system outputs: `f` gets pkgs.clusterpedia of this flake's
        # nixpkgs with overlays.default and then `overlay` (mkStoragePlugin's):
        #
        #   packages = clusterpedia.lib.eachSystem plugin (c: {
        #     default = c.plugins.my-storage-layer;
        #     apiserver = c.apiserver.withPlugins (ps: [ ps.my-storage-layer ]);
        #   });
        eachSystem =
          overlay: f: lib.genAttrs systems (system: f (pkgsWith [ overlay ] system).clusterpedia);
      };

      packages = forSystems (
        pkgs:
        let
          c = pkgs.clusterpedia;
        in
        {
          inherit (c)
            apiserver
            clustersynchro-manager
            binding-apiserver
            pedia
            workspace
            ;
          default = c.apiserver;
          # Every shipped plugin in one directory with its verified manifest.json.
          plugins = c.allPlugins;
          # The components with every shipped plugin: `nix run .#apiserver-with-plugins -- --storage-name sample-storage-layer ...`.
          apiserver-with-plugins = c.apiserver.withPlugins (ps: builtins.attrValues ps);
          clustersynchro-manager-with-plugins = c.clustersynchro-manager.withPlugins (
            ps: builtins.attrValues ps
          );
        }
        // c.plugins
        // lib.mapAttrs' (name: image: lib.nameValuePair "${name}-image" image) c.images
      );

      checks = forSystems (
        pkgs:
        pkgs.clusterpedia.checks
        // {
          plugins = pkgs.clusterpedia.allPlugins;
          nix-lib = builtins.deepSeq nixTests (pkgs.runCommand "nix-lib-tests" { } "touch $out");
        }
      );

      devShells = forSystems (pkgs: {
        default = pkgs.clusterpedia.devShell;
      });

      formatter = forSystems (pkgs: pkgs.nixfmt);
    };
}
