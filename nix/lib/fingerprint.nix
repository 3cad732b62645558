# The plugin build fingerprint (crates/pedia-plugin-api/build.rs) from the Nix side:
#   pedia-fp/2;rustc=<release>;rustc-commit=<hash>;target=<triple>;api=<version>;closure=<hash>
# The flake knows the compiler release, the target and the interface version at evaluation
# time and checks them against what each installed plugin carries. The compiler's commit
# and the closure hash (pedia-plugin-api's resolved dependency closure) are only known to
# the build; `pedia plugin verify` in the plugin-directory derivation compares them with the
# components built by the same derivation.
let

  # Nix system -> Rust target triple, for the systems the flake builds on.
  targets = {
    "x86_64-linux" = "x86_64-unknown-linux-gnu";
    "aarch64-linux" = "aarch64-unknown-linux-gnu";
  };
  targetOf =
    system:
    targets.${system} or (throw "clusterpedia: no Rust target known for Nix system ${system}; add it to nix/lib/fingerprint.nix");

  fields = [
    "rustc"
    "rustc-commit"
    "target"
    "api"
    "closure"
  ];

  format =
    {
      rustcRelease,
      rustcCommit,
      target,
      apiVersion,
      closureHash,
    }:
    "pedia-fp/2;rustc=${rustcRelease};rustc-commit=${rustcCommit};target=${target};api=${apiVersion};closure=${closureHash}";

  # "k=v;k=v" -> { k = v; }; the leading version tag is kept as `format`.
  parse =
    fp:
    let
      parts = builtins.filter builtins.isString (builtins.split ";" fp);
      kv =
        part:
        let
          m = builtins.match "([^=]+)=(.*)" part;
        in
        if m == null then
          {
            name = "format";
            value = part;
          }
        else
          {
            name = builtins.elemAt m 0;
            value = builtins.elemAt m 1;
          };
    in
    builtins.listToAttrs (map kv parts);

  # What the flake expects of every plugin it installs, from the source tree alone:
  # rust-toolchain.toml's channel and pedia-plugin-api's (workspace) version.
  expected =
    {
      rustToolchainToml,
      workspaceCargoToml,
      system,
    }:
    {
      rustc = (builtins.fromTOML rustToolchainToml).toolchain.channel;
      target = targetOf system;
      api = (builtins.fromTOML workspaceCargoToml).workspace.package.version;
    };

  # The differences between a fingerprint string and the expected fields, as messages that
  # name the plugin file and the fix; [] when it matches.
  mismatches =
    file: expect: fp:
    let
      actual = parse fp;
      wrong = builtins.filter (k: (actual.${k} or "missing") != expect.${k}) (builtins.attrNames expect);
    in
    map (
      k:
      "plugin ${file} has ${k}=${actual.${k} or "missing"}, this flake builds ${k}=${expect.${k}}: build the plugin with this flake (lib.mkStoragePlugin) and its toolchain"
    ) wrong;

  # The `k=v;` pieces a matching fingerprint contains, for a build-time check by `grep -F`.
  requiredParts = expect: map (k: "${k}=${expect.${k}};") (builtins.attrNames expect);
in
{
  inherit
    targetOf
    fields
    format
    parse
    expected
    mismatches
    requiredParts
    ;
}
