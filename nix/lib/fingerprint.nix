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

  # A Cargo.toml `version` that may be inherited (`version.workspace = true`).
  packageVersion =
    what: package: workspaceCargoToml:
    let
      v = package.version or (throw "clusterpedia: ${what} has no package.version");
      inherited = (builtins.fromTOML workspaceCargoToml).workspace.package.version or (throw "clusterpedia: ${what} inherits its version (version.workspace = true) but the workspace Cargo.toml has no workspace.package.version");
    in
    if builtins.isString v then
      v
    else if builtins.isAttrs v && (v.workspace or false) == true then
      inherited
    else
      throw "clusterpedia: ${what} has a package.version that is neither a string nor `{ workspace = true }`";

  # rust-toolchain.toml's channel, which must name one exact release: the fingerprint holds
  # rustc's release, so "stable" or "1.95" would let two builds of one source disagree.
  channelOf =
    rustToolchainToml:
    let
      channel = (builtins.fromTOML rustToolchainToml).toolchain.channel or (throw "clusterpedia: rust-toolchain.toml has no [toolchain] channel");
    in
    if builtins.isString channel && builtins.match "[0-9]+\\.[0-9]+\\.[0-9]+" channel != null then
      channel
    else
      throw "clusterpedia: rust-toolchain.toml's channel is ${builtins.toJSON channel}; it must be a full release like \"1.95.0\", because the plugin fingerprint contains rustc's exact release and every plugin must be built with the very same compiler as the components";

  # What the flake expects of every plugin it installs, from the source tree alone:
  # rust-toolchain.toml's channel (a full x.y.z), the target of the Nix system, and the
  # version of pedia-plugin-api as its own Cargo.toml declares it (inherited from the
  # workspace when it says `version.workspace = true`), which is the `api` that its
  # build.rs writes (CARGO_PKG_VERSION). packaging-tests' nix.rs asserts that these equal
  # the fields of the fingerprint the Rust build compiled in.
  expected =
    {
      rustToolchainToml,
      apiCargoToml,
      workspaceCargoToml,
      system,
    }:
    let
      package = (builtins.fromTOML apiCargoToml).package or { };
    in
    if (package.name or null) != "pedia-plugin-api" then
      throw "clusterpedia: the interface version must come from pedia-plugin-api's Cargo.toml, this one is ${builtins.toJSON (package.name or null)}'s"
    else
      {
        rustc = channelOf rustToolchainToml;
        target = targetOf system;
        api = packageVersion "pedia-plugin-api's Cargo.toml" package workspaceCargoToml;
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
    channelOf
    packageVersion
    fields
    format
    parse
    expected
    mismatches
    requiredParts
    ;
}
