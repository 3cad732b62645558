# A stand-in for `import nixpkgs { system; overlays; }`: the package set of ./pkgs.nix over
# the stand-in lib (../lib.nix). Evaluating against the real nixpkgs lib instead only needs
# another default.nix calling ./pkgs.nix with that lib.
{
  system,
  overlays ? [ ],
  config ? { },
}:
import ./pkgs.nix {
  lib = import ../lib.nix;
  inherit system overlays;
}
