# The flake's pure functions: no nixpkgs, only builtins, so they evaluate (and are unit
# tested with `nix-instantiate --eval --strict`, see ../tests) on machines without a store
# full of packages. Everything that builds lives in ../packages.nix.
let
  fingerprint = import ./fingerprint.nix;
  plugins = import ./plugins.nix;
  manifest = import ./manifest.nix { inherit plugins; };
  images = import ./images.nix;
  external = import ./external.nix;
in
{
  inherit
    fingerprint
    plugins
    manifest
    images
    external
    ;
}
