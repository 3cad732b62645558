# nix-instantiate --eval --strict nix/tests/workspace.nix
let
  inherit (import ./harness.nix) run throws;
  inherit ((import ../lib).workspace) addMembers memberOf;
  toml = ''
    [workspace]
    resolver = "3"
    members = [
        "crates/pedia-core",
        "plugins/sample-storage",
    ]
  '';
in
run "workspace" [
  {
    name = "plugin crates join the members";
    actual = addMembers toml [
      "my-storage"
      "es"
    ];
    expected = ''
      [workspace]
      resolver = "3"
      members = [
          "plugins/my-storage",
          "plugins/es",
          "crates/pedia-core",
          "plugins/sample-storage",
      ]
    '';
  }
  {
    name = "the result is still TOML with every member";
    actual = (builtins.fromTOML (addMembers toml [ "my-storage" ])).workspace.members;
    expected = [
      "plugins/my-storage"
      "crates/pedia-core"
      "plugins/sample-storage"
    ];
  }
  {
    name = "the real workspace takes a plugin";
    actual = builtins.elem "plugins/my-storage" (builtins.fromTOML (addMembers (builtins.readFile ../../Cargo.toml) [ "my-storage" ])).workspace.members;
    expected = true;
  }
  {
    name = "an existing member, an odd name, or no members list is refused";
    actual = map throws [
      (addMembers toml [ "sample-storage" ])
      (addMembers toml [ "../escape" ])
      (addMembers "[workspace]\n" [ "x" ])
    ];
    expected = [
      true
      true
      true
    ];
  }
  {
    name = "member path";
    actual = memberOf "my-storage";
    expected = "plugins/my-storage";
  }
]
