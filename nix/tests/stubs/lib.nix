# Just enough of nixpkgs' lib, in builtins, for evaluating flake.nix and nix/packages.nix
# in tests on a machine that cannot fetch nixpkgs. Semantics follow nixpkgs for the
# arguments the flake passes.
rec {
  genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
  concatMapStrings = f: list: builtins.concatStringsSep "" (map f list);
  escapeShellArg = s: "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s)}'";
  escapeShellArgs = list: builtins.concatStringsSep " " (map escapeShellArg list);
  mapAttrs = builtins.mapAttrs;
  nameValuePair = name: value: { inherit name value; };
  mapAttrs' = f: set: builtins.listToAttrs (map (n: f n set.${n}) (builtins.attrNames set));
  composeManyExtensions = builtins.foldl' (
    acc: ov: final: prev:
    let
      a = acc final prev;
    in
    a // ov final (prev // a)
  ) (final: prev: { });
  makeOverridable =
    f: args:
    let
      result = f args;
    in
    result
    // {
      override = new: makeOverridable f (args // (if builtins.isFunction new then new args else new));
    };
  fileset = {
    unions = list: list;
    # Every named path must exist, as with the real fileset. The result stands for the
    # store path (a string: interpolating the real tree would copy it into the store).
    toSource =
      { root, fileset }:
      if builtins.all builtins.pathExists fileset then
        "/nix/store/00000000000000000000000000000000-source"
      else
        throw "fileset: a path does not exist: ${builtins.toJSON (map toString fileset)}";
  };
}
