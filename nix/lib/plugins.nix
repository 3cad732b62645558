# Validation of a plugin set ({ name; file; } per plugin) before anything is built or
# installed: the same rules the components apply to a manifest at start-up, so a bad set
# fails at evaluation time with the names of the offending plugins.
let
  # Plain file names only: the manifest's files live in the plugin directory itself.
  badFile =
    file:
    file == ""
    || file == "."
    || file == ".."
    || file == "manifest.json"
    || builtins.match ".*[/\\\\].*" file != null
    || builtins.match ".*\\.so" file == null;

  duplicates =
    key: ps:
    let
      groups = builtins.groupBy (p: p.${key}) ps;
      repeated = builtins.filter (k: builtins.length groups.${k} > 1) (builtins.attrNames groups);
    in
    map (k: {
      value = k;
      files = map (p: p.file) groups.${k};
    }) repeated;

  # Every problem of the set, as messages; [] for a valid set.
  errors =
    ps:
    let
      missing = builtins.filter (p: !(p ? name && p ? file)) ps;
      complete = builtins.filter (p: p ? name && p ? file) ps;
    in
    map (p: "plugin entry ${builtins.toJSON p} needs both `name` and `file`") missing
    ++ map (p: "plugin ${builtins.toJSON p.name} has an empty storage-layer name") (
      builtins.filter (p: p.name == "") complete
    )
    ++ map (
      p: "plugin ${p.name}: file ${builtins.toJSON p.file} must be a plain *.so file name (not manifest.json, no directories)"
    ) (builtins.filter (p: badFile p.file) complete)
    ++ map (
      d:
      "storage layer name ${builtins.toJSON d.value} is registered by more than one plugin (${builtins.concatStringsSep ", " d.files}): a component refuses to start with both"
    ) (duplicates "name" complete)
    ++ map (d: "plugin file ${builtins.toJSON d.value} is listed more than once") (
      duplicates "file" complete
    );
in
{
  inherit errors;

  # The set itself when valid; otherwise evaluation stops with every problem listed.
  validate =
    ps:
    let
      problems = errors ps;
    in
    if problems == [ ] then
      ps
    else
      throw "clusterpedia: invalid storage plugin set:\n  ${builtins.concatStringsSep "\n  " problems}";
}
