# nix-instantiate --eval --strict nix/tests/plugins.nix
let
  inherit (import ./harness.nix) run throws mentions;
  inherit ((import ../lib).plugins) errors validate;
  a = {
    name = "sample-storage-layer";
    file = "libsample_storage.so";
  };
  b = {
    name = "es-storage-layer";
    file = "libes_storage.so";
  };
in
run "plugins" [
  {
    name = "a valid set has no errors";
    actual = errors [ a b ];
    expected = [ ];
  }
  {
    name = "validate returns a valid set";
    actual = validate [ a b ];
    expected = [ a b ];
  }
  {
    name = "the empty set is valid";
    actual = errors [ ];
    expected = [ ];
  }
  {
    name = "two plugins with one storage name, named with both files";
    actual = errors [
      a
      (b // { name = a.name; })
    ];
    expected = [
      "storage layer name \"sample-storage-layer\" is registered by more than one plugin (libsample_storage.so, libes_storage.so): a component refuses to start with both"
    ];
  }
  {
    name = "one file twice";
    actual = mentions "libsample_storage.so.*listed more than once" (errors [
      a
      (a // { name = "other"; })
    ]);
    expected = true;
  }
  {
    name = "paths, the manifest and non-.so files are not plugin files";
    actual = map (file: builtins.length (errors [ (a // { inherit file; }) ])) [
      "sub/libx.so"
      "manifest.json"
      "libx.dylib"
      ""
      "../libx.so"
    ];
    expected = [
      1
      1
      1
      1
      1
    ];
  }
  {
    name = "an empty name and a missing field";
    actual = map builtins.length [
      (errors [ (a // { name = ""; }) ])
      (errors [ { name = "x"; } ])
    ];
    expected = [
      1
      1
    ];
  }
  {
    name = "validate stops evaluation on a duplicate name";
    actual = throws (validate [
      a
      (b // { name = a.name; })
    ]);
    expected = true;
  }
]
