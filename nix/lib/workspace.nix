# Adding third-party plugin crates to the workspace (lib.mkStoragePlugin): a plugin must be
# built in the same workspace as the components, from one Cargo.lock, or its fingerprint
# differs and the components refuse it.
let
  marker = "members = [";
  count = needle: text: (builtins.length (builtins.split (builtins.replaceStrings [ "[" ] [ "\\[" ] needle) text) - 1) / 2;

  memberOf =
    name:
    if builtins.match "[a-z0-9][a-z0-9_-]*" name == null then
      throw "clusterpedia: plugin crate directory name ${builtins.toJSON name} must be lower-case letters, digits, - and _"
    else
      "plugins/${name}";
in
{
  inherit memberOf;

  # The workspace Cargo.toml text with `plugins/<name>` added to `[workspace] members`.
  addMembers =
    cargoToml: names:
    let
      n = count marker cargoToml;
      members = map memberOf names;
      existing = builtins.filter (m: builtins.match ".*\"${m}\".*" (builtins.replaceStrings [ "\n" ] [ " " ] cargoToml) != null) members;
    in
    if n != 1 then
      throw "clusterpedia: the workspace Cargo.toml must contain `${marker}` exactly once (found ${toString n})"
    else if existing != [ ] then
      throw "clusterpedia: ${builtins.concatStringsSep ", " existing} is already a workspace member: choose another plugin directory name"
    else
      builtins.replaceStrings [ marker ] [
        (marker + builtins.concatStringsSep "" (map (m: "\n    \"${m}\",") members))
      ] cargoToml;
}
