# The plugin build fingerprint (crates/pedia-plugin-api/build.rs) from the Nix side:
#   pedia-fp/1;rustc=<release>;rustc-commit=<hash>;target=<triple>;api=<version>;lock=<hash>
# The flake knows every part at evaluation time except the compiler's commit hash, so it
# checks the other parts against what each installed plugin carries.
let
  # The first 16 bytes of the lockfile's sha256, in hex: what build.rs computes.
  lockHashOfText = text: builtins.substring 0 32 (builtins.hashString "sha256" text);

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
    "lock"
  ];

  format =
    {
      rustcRelease,
      rustcCommit,
      target,
      apiVersion,
      lockHash,
    }:
    "pedia-fp/1;rustc=${rustcRelease};rustc-commit=${rustcCommit};target=${target};api=${apiVersion};lock=${lockHash}";

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
  # rust-toolchain.toml's channel, pedia-plugin-api's (workspace) version, Cargo.lock.
  expected =
    {
      rustToolchainToml,
      workspaceCargoToml,
      cargoLockText,
      system,
    }:
    {
      rustc = (builtins.fromTOML rustToolchainToml).toolchain.channel;
      target = targetOf system;
      api = (builtins.fromTOML workspaceCargoToml).workspace.package.version;
      lock = lockHashOfText cargoLockText;
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
      "plugin ${file} has ${k}=${actual.${k} or "missing"}, this flake builds ${k}=${expect.${k}}: build the plugin with this flake (lib.mkStoragePlugin), from the same Cargo.lock and toolchain"
    ) wrong;

  # The `k=v;` pieces a matching fingerprint contains, for a build-time check by `grep -F`.
  requiredParts = expect: map (k: "${k}=${expect.${k}};") (builtins.filter (k: k != "lock") (builtins.attrNames expect)) ++ [ "lock=${expect.lock}" ];
in
{
  inherit
    lockHashOfText
    targetOf
    fields
    format
    parse
    expected
    mismatches
    requiredParts
    ;
}
