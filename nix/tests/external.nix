# nix-instantiate --eval --strict nix/tests/external.nix
let
  inherit (import ./harness.nix) run throws;
  inherit ((import ../lib).external) describe specs checkSpec;
  fixtures = ./fixtures/plugins;
  read = p: builtins.readFile (fixtures + "/${p}");
  channel = "1.95.0";
  spec = name: { inherit name; src = fixtures + "/alpha"; };
  of =
    spec: cargoToml: toolchainToml:
    describe {
      inherit spec cargoToml toolchainToml channel;
    };
  alpha = of (spec "alpha-storage-layer") (read "alpha/Cargo.toml") null;
  beta = of (spec "beta-storage-layer") (read "beta/Cargo.toml") null;
  virtual = ''
    [workspace]
    members = ["crates/my-plugin"]
    [workspace.package]
    version = "4.0.0"
  '';
  toolchain = c: ''
    [toolchain]
    channel = "${c}"
  '';
in
run "external" [
  {
    name = "a single-crate plugin: package, [lib] name and file from its Cargo.toml";
    actual = {
      inherit (alpha)
        name
        package
        libName
        file
        version
        cargoLock
        cargoExtraArgs
        ;
    };
    expected = {
      name = "alpha-storage-layer";
      package = "alpha-storage";
      libName = "alpha_storage";
      file = "libalpha_storage.so";
      version = "0.3.0";
      cargoLock = null;
      cargoExtraArgs = "";
    };
  }
  {
    name = "a workspace-root plugin: inherited version, its own [lib] name";
    actual = {
      inherit (beta) package file version;
    };
    expected = {
      package = "beta-storage";
      file = "libbeta_sqlite.so";
      version = "2.1.0";
    };
  }
  {
    name = "a virtual workspace needs package (and then libName defaults from it)";
    actual = {
      refused = throws (of (spec "x") virtual null).package;
      named = (of (spec "x" // { package = "my-plugin"; }) virtual null).file;
      version = (of (spec "x" // { package = "my-plugin"; }) virtual null).version;
    };
    expected = {
      refused = true;
      named = "libmy_plugin.so";
      version = "4.0.0";
    };
  }
  {
    name = "a crate that is not a cdylib is refused";
    actual = throws (of (spec "x") (builtins.replaceStrings [ "\"cdylib\"" ] [ "\"rlib\"" ] (read "alpha/Cargo.toml")) null);
    expected = true;
  }
  {
    name = "the plugin's rust-toolchain.toml must name this flake's channel";
    actual = map (t: throws (of (spec "x") (read "alpha/Cargo.toml") t)) [
      null
      (toolchain channel)
      (toolchain "1.80.0")
      (read "old-toolchain/rust-toolchain.toml")
    ];
    expected = [
      false
      false
      true
      true
    ];
  }
  {
    name = "names spliced into cargo's command line are cargo names";
    actual = map throws [
      (of (spec "x" // { package = "a b"; }) virtual null).file
      (of (spec "x" // { libName = "x;rm"; }) (read "alpha/Cargo.toml") null).file
    ];
    expected = [
      true
      true
    ];
  }
  {
    name = "a spec takes only known attributes, and needs name and src";
    actual = map throws [
      (checkSpec (spec "x" // { libname = "typo"; }))
      (checkSpec { name = "x"; })
      (checkSpec (spec ""))
      (checkSpec "alpha")
    ];
    expected = [
      true
      true
      true
      true
    ];
  }
  {
    name = "optional attributes pass through";
    actual =
      let
        d = of (
          spec "x"
          // {
            cargoExtraArgs = "--features fast";
            outputHashes."git+https://example.org/x?rev=1#1" = "sha256-AAAA";
          }
        ) (read "alpha/Cargo.toml") null;
      in
      {
        inherit (d) cargoExtraArgs buildInputs;
        hashes = builtins.attrNames d.outputHashes;
      };
    expected = {
      cargoExtraArgs = "--features fast";
      buildInputs = [ ];
      hashes = [ "git+https://example.org/x?rev=1#1" ];
    };
  }
  {
    name = "one plugin or a list of them";
    actual = map (s: map (p: p.name) (specs s)) [
      (spec "a")
      [
        (spec "a")
        (spec "b")
      ]
    ];
    expected = [
      [ "a" ]
      [
        "a"
        "b"
      ]
    ];
  }
]
