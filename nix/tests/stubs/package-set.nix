# nix/packages.nix, or a copy of it, called as overlays.default calls it, over the
# stand-ins: for tests that change one line of it and expect the stand-ins to object.
{
  packages ? ../../packages.nix,
  src ? ../../..,
  system ? "x86_64-linux",
}:
let
  pkgs = import ./nixpkgs {
    inherit system;
    overlays = [ (import ./rust-overlay.nix).overlays.default ];
  };
in
pkgs.callPackage packages {
  crane = import ./crane.nix;
  inherit src;
  extraPlugins = [ ];
}
