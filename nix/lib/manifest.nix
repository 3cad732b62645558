# manifest.json of a plugin directory, as the components read it
# (crates/pedia-plugin-host/src/manifest.rs):
#   { "version": 1, "fingerprint": "...", "plugins": [ { "name", "file", "sha256", "fingerprint" } ] }
# assembled from entries whose hashes are known, with the checks the components apply.
{ plugins }:
let
  pluginSet = plugins;
  version = 1;

  isSha256 = s: builtins.isString s && builtins.match "[0-9a-f]{64}" s != null;

  # Every problem, as messages; [] for a valid manifest.
  errors =
    { fingerprint, plugins }:
    let
      wrongFingerprint = builtins.filter (p: (p.fingerprint or "") != fingerprint) plugins;
    in
    (
      if builtins.isString fingerprint && fingerprint != "" then
        [ ]
      else
        [ "the manifest needs the build fingerprint" ]
    )
    ++ pluginSet.errors plugins
    ++ map (
      p:
      "plugin ${p.file or "?"}: sha256 ${builtins.toJSON (p.sha256 or null)} is not 64 lower-case hex digits"
    ) (builtins.filter (p: !(isSha256 (p.sha256 or null))) plugins)
    # A plugin whose fingerprint is not the directory's would be refused at start-up.
    ++ map (
      p:
      "plugin ${p.file or "?"} was built with fingerprint ${builtins.toJSON (p.fingerprint or null)}, the directory's is ${builtins.toJSON fingerprint}: build the plugin with this flake (lib.mkStoragePlugin) from a Cargo.lock pinned with `pedia plugin lock --against` the components"
    ) wrongFingerprint;
in
{
  inherit version errors;

  # The manifest as a Nix value; evaluation stops with every problem listed.
  mk =
    { fingerprint, plugins }@args:
    let
      problems = errors args;
    in
    if problems == [ ] then
      {
        inherit version fingerprint;
        plugins = map (p: {
          inherit (p)
            name
            file
            sha256
            fingerprint
            ;
        }) plugins;
      }
    else
      throw "clusterpedia: invalid plugin manifest:\n  ${builtins.concatStringsSep "\n  " problems}";

  toJSON = manifest: builtins.toJSON manifest;
}
