# A stand-in for the crane flake: every builder records its arguments.
let
  drv = name: args: args // { type = "derivation"; name = "crane-${name}"; outPath = "/nix/store/00000000000000000000000000000000-crane-${name}"; builder = name; };
  craneLib = pkgs: rec {
    overrideToolchain = f: builtins.seq (f pkgs) (craneLib pkgs // { toolchain = f pkgs; });
    buildDepsOnly = drv "buildDepsOnly";
    buildPackage = drv "buildPackage";
    vendorCargoDeps = drv "vendorCargoDeps";
    cargoClippy = drv "cargoClippy";
    cargoFmt = drv "cargoFmt";
    cargoTest = drv "cargoTest";
    devShell = drv "devShell";
  };
in
{
  mkLib = craneLib;
}
