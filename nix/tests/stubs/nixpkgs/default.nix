# A stand-in for `import nixpkgs { system; overlays; }`: derivations are plain attrsets that
# record their arguments, so tests can check what the flake would build.
{
  system,
  overlays ? [ ],
}:
let
  lib = import ../lib.nix;
  drv =
    name: attrs:
    attrs
    // {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
    };
  base = final: {
    inherit lib;
    pkgs = final;
    stdenv.hostPlatform.system = system;
    callPackage =
      fn: args:
      let
        f = if builtins.isFunction fn then fn else import fn;
      in
      lib.makeOverridable f (builtins.intersectAttrs (builtins.functionArgs f) final // args);
    runCommand =
      name: env: script:
      drv name (env.passthru or { }) // { inherit env script; meta = env.meta or { }; };
    writeText = name: text: drv name { inherit text; };
    makeWrapper = drv "makeWrapper" { };
    jq = drv "jq" { };
    kubectl = drv "kubectl" { };
    kubernetes-helm = drv "helm" { };
    umoci = drv "umoci" { };
    podman = drv "podman" { };
    nixfmt-rfc-style = drv "nixfmt" { };
    pkgsStatic.busybox = drv "busybox-static" { };
    dockerTools.streamLayeredImage = args: drv "image-${baseNameOf args.name}" { imageArgs = args; };
  };
  extends = ov: f: final: let prev = f final; in prev // ov final prev;
  composed = builtins.foldl' (f: ov: extends ov f) base overlays;
  pkgs = composed pkgs;
in
pkgs
