{
  description = "Clusterpedia-rs: multi-cluster Kubernetes search with verified native storage plugins";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    crane.url = "github:ipetkov/crane";
    rust-overlay = {
      url = "github:oxalica/rust-overlay";
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
      forSystems =
        f:
        lib.genAttrs systems (
          system:
          f (
            import nixpkgs {
              inherit system;
              overlays = [ self.overlays.default ];
            }
          )
        );
      # The pure functions' unit tests (nix/tests), also run by `nix-instantiate` in CI.
      nixTests = map (t: import (./nix/tests + "/${t}.nix")) [
        "fingerprint"
        "plugins"
        "manifest"
        "images"
        "workspace"
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
            cargoLock = null;
          };
        })
      ];

      lib = nixLib // {
        # An overlay adding a third-party storage plugin crate to the workspace, so it is
        # built with the components from one Cargo.lock (and so carries their fingerprint):
        #
        #   overlays.default = clusterpedia.lib.mkStoragePlugin {
        #     name = "my-storage-layer";   # the storage name the plugin registers
        #     src = ./.;                   # the plugin crate (depends on pedia-plugin-api.workspace = true)
        #     libName = "my_storage";      # its [lib] name: the file is libmy_storage.so
        #     cargoLock = ./Cargo.lock;    # the lockfile of this workspace plus the plugin
        #   };
        #
        # then pkgs.clusterpedia.apiserver.withPlugins (ps: [ ps.my-storage-layer ]).
        mkStoragePlugin =
          {
            name,
            src,
            libName,
            cargoLock,
            dir ? name,
          }:
          final: prev: {
            clusterpedia = prev.clusterpedia.override (old: {
              extraPlugins = old.extraPlugins ++ [
                {
                  inherit name src dir;
                  file = "lib${libName}.so";
                }
              ];
              inherit cargoLock;
            });
          };
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

      formatter = forSystems (pkgs: pkgs.nixfmt-rfc-style);
    };
}
