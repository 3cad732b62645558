# flake.nix's outputs with the stand-in inputs: nixpkgs (./nixpkgs over ./lib.nix), crane
# (./crane.nix) and rust-overlay (./rust-overlay.nix). Any of them can be replaced, e.g. by
# the real crane and rust-overlay sources and a nixpkgs of the real lib with ./nixpkgs/pkgs.nix.
{
  lib ? import ./lib.nix,
  nixpkgs ? {
    outPath = ./nixpkgs;
    inherit lib;
  },
  crane ? import ./crane.nix,
  rust-overlay ? import ./rust-overlay.nix,
}:
let
  flake = import ../../../flake.nix;
  outputs = flake.outputs {
    self = outputs // {
      outPath = ../../..;
    };
    inherit nixpkgs crane rust-overlay;
  };
in
outputs
