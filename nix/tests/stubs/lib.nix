# The part of nixpkgs' lib that flake.nix and nix/ use, in builtins, for evaluating them on
# a machine that cannot fetch nixpkgs. Each function has the real one's arguments (attribute
# sets take exactly the real attribute names, so a wrong one is an error) and its semantics
# for the values the flake passes.
let
  upper = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];
  lower = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
in
rec {
  genAttrs =
    names: f:
    builtins.listToAttrs (
      map (n: {
        name = n;
        value = f n;
      }) names
    );
  concatMapStrings = f: list: builtins.concatStringsSep "" (map f list);
  concatMapStringsSep = sep: f: list: builtins.concatStringsSep sep (map f list);
  escapeShellArg =
    arg:
    let
      s = toString arg;
    in
    if builtins.match "[[:alnum:],._+:@%/-]+" s != null then
      s
    else
      "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] s}'";
  escapeShellArgs = list: builtins.concatStringsSep " " (map escapeShellArg list);
  mapAttrs = builtins.mapAttrs;
  nameValuePair = name: value: { inherit name value; };
  mapAttrs' = f: set: builtins.listToAttrs (map (n: f n set.${n}) (builtins.attrNames set));
  optionalAttrs = cond: set: if cond then set else { };
  optionals = cond: list: if cond then list else [ ];
  toLower = builtins.replaceStrings upper lower;
  isFunction = f: builtins.isFunction f || (f ? __functor);

  # Overlays compose as nixpkgs' do: each sees the final set and the one before it.
  composeExtensions =
    f: g: final: prev:
    let
      fApplied = f final prev;
      prev' = prev // fApplied;
    in
    fApplied // g final prev';
  composeManyExtensions = builtins.foldl' composeExtensions (final: prev: { });

  makeOverridable =
    f: args:
    let
      result = f args;
      override = new: makeOverridable f (args // (if isFunction new then new args else new));
    in
    if builtins.isAttrs result then result // { inherit override; } else result;

  fileset = {
    unions =
      list:
      if builtins.isList list then
        list
      else
        throw "lib.fileset.unions: Argument is of type ${builtins.typeOf list}, but it should be a list instead.";
    # As lib.fileset.toSource: a cleanSourceWith result whose outPath is the filtered copy
    # of `root` holding exactly the named files and directories (every one must exist).
    toSource =
      { root, fileset }:
      let
        paths = map toString fileset;
        rootStr = toString root;
        under = p: prefix: p == prefix || builtins.substring 0 (builtins.stringLength prefix + 1) p == prefix + "/";
        filter =
          path: type:
          builtins.any (f: under path f || (type == "directory" && under f path)) paths;
        missing = builtins.filter (p: !builtins.pathExists p) fileset;
      in
      if missing != [ ] then
        throw "lib.fileset.toSource: `fileset` names paths that do not exist: ${builtins.toJSON (map toString missing)}"
      else if !builtins.all (p: under p rootStr) paths then
        throw "lib.fileset.toSource: `fileset` could contain files outside the `root` (${rootStr})"
      else
        {
          _isLibCleanSourceWith = true;
          origSrc = root;
          inherit filter;
          name = "source";
          outPath = builtins.path {
            name = "source";
            path = root;
            inherit filter;
          };
        };
  };
}
