# nix-instantiate --eval --strict nix/tests/fingerprint.nix
let
  inherit (import ./harness.nix) run throws mentions;
  fp = (import ../lib).fingerprint;
  sample = {
    rustcRelease = "1.95.0";
    rustcCommit = "59807616e1fa2540724bfbac14d7976d7e4a3860";
    target = "x86_64-unknown-linux-gnu";
    apiVersion = "0.1.0";
    closureHash = "083791b01c1a67ae66aca99070c9ee48";
  };
  text = fp.format sample;
  toolchain = channel: ''
    [toolchain]
    channel = ${builtins.toJSON channel}
  '';
  inherited = ''
    [package]
    name = "pedia-plugin-api"
    version.workspace = true
  '';
  workspace = ''
    [workspace.package]
    version = "0.1.0"
  '';
  expect = fp.expected {
    rustToolchainToml = toolchain "1.95.0";
    apiCargoToml = inherited;
    workspaceCargoToml = workspace;
    system = "x86_64-linux";
  };
  # The real tree: what the flake computes for this repository.
  repo = fp.expected {
    rustToolchainToml = builtins.readFile ../../rust-toolchain.toml;
    apiCargoToml = builtins.readFile ../../crates/pedia-plugin-api/Cargo.toml;
    workspaceCargoToml = builtins.readFile ../../Cargo.toml;
    system = "aarch64-linux";
  };
  withChannel =
    channel:
    builtins.tryEval (
      (fp.expected {
        rustToolchainToml = toolchain channel;
        apiCargoToml = inherited;
        workspaceCargoToml = workspace;
        system = "x86_64-linux";
      }).rustc
    );
  otherApi = builtins.replaceStrings [ "api=0.1.0" ] [ "api=0.2.0" ] text;
in
run "fingerprint" [
  {
    name = "format is build.rs's";
    actual = text;
    expected = "pedia-fp/2;rustc=1.95.0;rustc-commit=59807616e1fa2540724bfbac14d7976d7e4a3860;target=x86_64-unknown-linux-gnu;api=0.1.0;closure=083791b01c1a67ae66aca99070c9ee48";
  }
  {
    name = "parse inverts format";
    actual = fp.parse text;
    expected = {
      format = "pedia-fp/2";
      rustc = "1.95.0";
      "rustc-commit" = "59807616e1fa2540724bfbac14d7976d7e4a3860";
      target = "x86_64-unknown-linux-gnu";
      api = "0.1.0";
      closure = "083791b01c1a67ae66aca99070c9ee48";
    };
  }
  {
    name = "expected fields from the source files";
    actual = expect;
    expected = {
      rustc = "1.95.0";
      target = "x86_64-unknown-linux-gnu";
      api = "0.1.0";
    };
  }
  {
    name = "the interface version is pedia-plugin-api's own, when it does not inherit it";
    actual =
      (fp.expected {
        rustToolchainToml = toolchain "1.95.0";
        apiCargoToml = ''
          [package]
          name = "pedia-plugin-api"
          version = "0.2.0-rc.1"
        '';
        workspaceCargoToml = workspace;
        system = "x86_64-linux";
      }).api;
    expected = "0.2.0-rc.1";
  }
  {
    name = "the interface version comes from pedia-plugin-api's Cargo.toml, not another crate's";
    actual = throws (fp.expected {
      rustToolchainToml = toolchain "1.95.0";
      apiCargoToml = builtins.replaceStrings [ "pedia-plugin-api" ] [ "pedia-core" ] inherited;
      workspaceCargoToml = workspace;
      system = "x86_64-linux";
    }).api;
    expected = true;
  }
  {
    name = "the channel must be one full release";
    actual = map (c: (withChannel c).success) [
      "1.95.0"
      "1.95"
      "stable"
      "nightly-2026-01-01"
      "1.95.0-beta.1"
    ];
    expected = [
      true
      false
      false
      false
      false
    ];
  }
  {
    name = "a matching fingerprint has no mismatches";
    actual = fp.mismatches "libx.so" expect text;
    expected = [ ];
  }
  {
    name = "another interface version is named with the fix";
    actual = mentions "plugin libx.so has api=0.2.0.*this flake builds api=0.1.0.*lib.mkStoragePlugin" (
      fp.mismatches "libx.so" expect otherApi
    );
    expected = true;
  }
  {
    name = "another compiler is named";
    actual = builtins.length (fp.mismatches "libx.so" expect (builtins.replaceStrings [ "rustc=1.95.0" ] [ "rustc=1.93.0" ] text));
    expected = 1;
  }
  {
    name = "required parts for the build-time check";
    actual = fp.requiredParts expect;
    expected = [
      "api=0.1.0;"
      "rustc=1.95.0;"
      "target=x86_64-unknown-linux-gnu;"
    ];
  }
  {
    name = "the repository's own inputs";
    actual = {
      rustc = builtins.match "[0-9]+\\.[0-9]+\\.[0-9]+" repo.rustc != null;
      api = builtins.match "[0-9]+\\.[0-9]+\\.[0-9]+.*" repo.api != null;
      inherit (repo) target;
    };
    expected = {
      rustc = true;
      api = true;
      target = "aarch64-unknown-linux-gnu";
    };
  }
  {
    name = "an unknown system is an error";
    actual = throws (fp.targetOf "riscv64-plan9");
    expected = true;
  }
]
