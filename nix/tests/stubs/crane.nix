# A stand-in for the crane flake (github:ipetkov/crane at the revision flake.nix pins):
# `mkLib pkgs` and the craneLib functions the flake calls. Each takes exactly the attributes
# the real one gives a meaning to, listed from crane's sources (lib/<function>.nix,
# lib/setupHooks/*.sh and docs/API.md): its own, those it hands to mkCargoDerivation, and
# stdenv.mkDerivation's (../stubs/derivation.nix). The real functions pass any other name
# on as an environment variable, so a misspelt one (`cargoExtraArg`) would be silently
# ignored there; here it is an error naming it. Results are real derivations that record
# what was asked (`craneArgs`). Like crane, the builders read Cargo.toml and Cargo.lock
# from `src` at evaluation time, so a `src` that is a derivation output (import from
# derivation) is refused.
let
  d = import ./derivation.nix;

  # Read by crane's setup hooks from the derivation's environment.
  hookVars = [
    "CARGO_PROFILE"
    "CARGO_BUILD_INCREMENTAL"
    "CARGO_BUILD_JOBS"
    "CARGO_BUILD_RUSTFLAGS"
    "RUST_TEST_THREADS"
    "installCargoArtifactsMode"
    "zstdCompressionExtraArgs"
    "doNotPostBuildInstallCargoBinaries"
    "doNotRemoveReferencesToRustToolchain"
    "doNotRemoveReferencesToVendorDir"
    "doNotReplaceCargoLock"
    "doRemapPathPrefix"
  ];

  # lib/mkCargoDerivation.nix (and crateNameFromCargoToml, which it calls).
  mkCargoDerivationArgs =
    d.stdenvArgs
    ++ hookVars
    ++ [
      "cargoArtifacts"
      "buildPhaseCargoCommand"
      "checkPhaseCargoCommand"
      "installPhaseCommand"
      "cargoLock"
      "cargoLockContents"
      "cargoLockParsed"
      "cargoVendorDir"
      "doIncludeCrossToolchainEnv"
      "doInstallCargoArtifacts"
      "pnameSuffix"
      "cargoToml"
      "cargoTomlContents"
      "outputHashes"
    ];

  # lib/buildDepsOnly.nix, with mkDummySrc's options.
  buildDepsOnlyArgs = mkCargoDerivationArgs ++ [
    "cargoBuildCommand"
    "cargoCheckCommand"
    "cargoExtraArgs"
    "cargoBuildExtraArgs"
    "cargoCheckExtraArgs"
    "cargoTestCommand"
    "cargoTestExtraArgs"
    "dummySrc"
    "extraDummyScript"
    "dummyrs"
    "dummyBuildrs"
  ];

  # lib/buildPackage.nix: its own options, and buildDepsOnly's, which it passes on when it
  # builds the dependencies itself (no cargoArtifacts).
  buildPackageArgs = buildDepsOnlyArgs;

  # lib/cargoClippy.nix, lib/cargoTest.nix, lib/cargoFmt.nix.
  cargoClippyArgs = mkCargoDerivationArgs ++ [
    "cargoClippyExtraArgs"
    "cargoExtraArgs"
  ];
  cargoTestArgs = mkCargoDerivationArgs ++ [
    "cargoExtraArgs"
    "cargoTestExtraArgs"
  ];
  cargoFmtArgs = mkCargoDerivationArgs ++ [
    "cargoExtraArgs"
    "rustFmtExtraArgs"
  ];

  # lib/vendorCargoDeps.nix, called directly: the attributes it reads.
  vendorCargoDepsArgs = [
    "src"
    "cargoLock"
    "cargoLockContents"
    "cargoLockParsed"
    "outputHashes"
    "overrideVendorCargoPackage"
    "overrideVendorGitCheckout"
    "registries"
  ];

  # lib/devShell.nix, a wrapper of mkShell.
  devShellArgs = [
    "name"
    "checks"
    "inputsFrom"
    "packages"
    "shellHook"
    "buildInputs"
    "nativeBuildInputs"
    "env"
    "passthru"
    "meta"
  ];

  # The options crane consumes itself: never in the derivation's environment.
  consumed = [
    "buildPhaseCargoCommand"
    "checkPhaseCargoCommand"
    "installPhaseCommand"
    "cargoLock"
    "cargoLockContents"
    "cargoLockParsed"
    "pnameSuffix"
    "outputHashes"
    "cargoToml"
    "cargoTomlContents"
    "cargoBuildCommand"
    "cargoCheckCommand"
    "cargoExtraArgs"
    "cargoBuildExtraArgs"
    "cargoCheckExtraArgs"
    "cargoTestCommand"
    "cargoTestExtraArgs"
    "cargoClippyExtraArgs"
    "rustFmtExtraArgs"
    "dummySrc"
    "extraDummyScript"
    "dummyrs"
    "dummyBuildrs"
  ];

  # Options that must be strings when given: commands, phases and their hooks.
  strings = builtins.filter (
    k:
    builtins.match "cargo[A-Za-z]*(Args|Command)|[a-z]+Phase(Cargo)?(Command)?|(pre|post)(Unpack|Patch|Configure|Build|Check|Install|Fixup|InstallCheck)" k
    != null
  ) (buildDepsOnlyArgs ++ cargoClippyArgs ++ cargoFmtArgs);

  asSet = names: builtins.listToAttrs (map (name: { inherit name; value = null; }) names);

  origSrc = src: if src._isLibCleanSourceWith or false then src.origSrc else src;
  fileIn = dir: name: if builtins.isPath dir then dir + "/${name}" else "${dir}/${name}";

  # `src` as crane reads it at evaluation time, refused when that would build something.
  readableSrc =
    what: src:
    let
      s = origSrc src;
      context = builtins.getContext (toString s);
      built = builtins.filter (k: context.${k} ? outputs) (builtins.attrNames context);
    in
    if built != [ ] then
      throw "${what} (stand-in): src ${toString s} is an output of ${builtins.head built}; crane reads Cargo.toml and Cargo.lock from src while evaluating, so this would be import from derivation"
    else if !builtins.pathExists (fileIn s "Cargo.toml") then
      throw "${what} (stand-in): src ${toString s} has no Cargo.toml"
    else
      s;

  checkTypes =
    what: a:
    let
      wrong = builtins.filter (k: a ? ${k} && !builtins.isString a.${k}) strings;
      isDrvOrNull = v: v == null || (builtins.isAttrs v && v ? outPath) || builtins.isPath v;
    in
    if wrong != [ ] then
      throw "${what} (stand-in): ${builtins.head wrong} must be a string"
    else if a ? cargoArtifacts && !isDrvOrNull a.cargoArtifacts then
      throw "${what} (stand-in): cargoArtifacts must be a derivation (e.g. buildDepsOnly's) or null"
    else if a ? cargoVendorDir && !isDrvOrNull a.cargoVendorDir then
      throw "${what} (stand-in): cargoVendorDir must be a derivation, a path or null"
    else if a ? outputHashes && !builtins.isAttrs a.outputHashes then
      throw "${what} (stand-in): outputHashes must be an attribute set"
    else
      a;

  mkLib =
    pkgs: toolchain:
    let
      system = pkgs.stdenv.hostPlatform.system;

      vendorCargoDeps =
        args:
        let
          a = d.checkArgs "craneLib.vendorCargoDeps" vendorCargoDepsArgs [ ] args;
          lockText =
            if a ? cargoLockContents then
              a.cargoLockContents
            else if a ? cargoLock then
              builtins.readFile a.cargoLock
            else if a ? src then
              builtins.readFile (fileIn (readableSrc "craneLib.vendorCargoDeps" a.src) "Cargo.lock")
            else
              throw "craneLib.vendorCargoDeps (stand-in): needs src, cargoLock, cargoLockContents or cargoLockParsed";
          lock = a.cargoLockParsed or (builtins.fromTOML lockText);
          packages = lock.package or [ ];
          git = builtins.filter (p: builtins.substring 0 4 (p.source or "") == "git+") packages;
          unlocked = builtins.filter (p: builtins.length (builtins.split "#" p.source) != 3) git;
        in
        if unlocked != [ ] then
          throw "craneLib.vendorCargoDeps (stand-in): Cargo.lock is missing a locked revision for ${(builtins.head unlocked).name}"
        else
          d.derive system "craneLib.vendorCargoDeps" {
            name = "vendor-cargo-deps";
            env.lock = builtins.hashString "sha256" (builtins.toJSON packages);
            passthru = {
              craneFunction = "vendorCargoDeps";
              craneArgs = a;
              lockPackages = map (p: "${p.name} ${p.version}") packages;
            };
          };

      # The shared part of every builder: check, read src, vendor, lower to a derivation.
      cargoDerivation =
        {
          what,
          allowed,
          required ? [ ],
          suffix,
          commands,
        }:
        args:
        let
          a = checkTypes what (d.checkArgs what allowed ([ "src" ] ++ required) args);
          src = readableSrc what a.src;
          manifest = builtins.fromTOML (builtins.readFile (fileIn src "Cargo.toml"));
          c = commands a;
          vendorDir =
            if a ? cargoVendorDir then
              a.cargoVendorDir
            else
              vendorCargoDeps (builtins.intersectAttrs (asSet vendorCargoDepsArgs) a);
        in
        d.derive system what (
          removeAttrs a consumed
          // {
            pname = "${
              a.pname or manifest.package.name
                or (throw "${what} (stand-in): no pname, and src's Cargo.toml has no [package] name (crane would warn and use a placeholder)")
            }${suffix}";
            version = a.version or manifest.package.version or "0.0.0";
            cargoVendorDir = vendorDir;
            nativeBuildInputs = (a.nativeBuildInputs or [ ]) ++ [ toolchain ];
            buildPhase = a.buildPhase or "runHook preBuild\ncargo --version\n${c.build}\nrunHook postBuild";
            checkPhase = a.checkPhase or "runHook preCheck\n${c.check or ""}\nrunHook postCheck";
            installPhase = a.installPhase or "runHook preInstall\n${a.installPhaseCommand or "mkdir -p $out"}\nrunHook postInstall";
            passthru = (a.passthru or { }) // {
              craneFunction = what;
              craneArgs = a;
              craneToolchain = toolchain;
            };
          }
          // (if a ? cargoLock then { cargoLock = a.cargoLock; } else { })
        );

      extra = a: k: default: a.${k} or default;

      buildDepsOnly = cargoDerivation {
        what = "craneLib.buildDepsOnly";
        allowed = buildDepsOnlyArgs;
        suffix = "-deps";
        commands = a: {
          build = "cargo check --profile release ${extra a "cargoExtraArgs" "--locked"} ${extra a "cargoCheckExtraArgs" ""}\ncargo build --profile release ${extra a "cargoExtraArgs" "--locked"} ${extra a "cargoBuildExtraArgs" ""}";
        };
      };
    in
    {
      inherit vendorCargoDeps buildDepsOnly;

      overrideToolchain =
        arg:
        let
          t = if builtins.isFunction arg then arg pkgs else arg;
        in
        if !(builtins.isAttrs t && (t.type or null) == "derivation") then
          throw "craneLib.overrideToolchain (stand-in): the toolchain must be a derivation (or a function of pkgs returning one)"
        else
          mkLib pkgs t;

      buildPackage =
        args:
        cargoDerivation
          {
            what = "craneLib.buildPackage";
            allowed = buildPackageArgs;
            suffix = "";
            commands = a: {
              build = "cargo build --profile release --message-format json-render-diagnostics ${extra a "cargoExtraArgs" "--locked"} ${extra a "cargoBuildExtraArgs" ""}";
              check = "cargo test --profile release ${extra a "cargoExtraArgs" "--locked"} ${extra a "cargoTestExtraArgs" ""}";
            };
          }
          (
            args
            // {
              cargoArtifacts = args.cargoArtifacts or (buildDepsOnly args);
            }
          );

      cargoClippy = cargoDerivation {
        what = "craneLib.cargoClippy";
        allowed = cargoClippyArgs;
        required = [ "cargoArtifacts" ];
        suffix = "-clippy";
        commands = a: {
          build = "cargo clippy --profile release ${extra a "cargoExtraArgs" "--locked"} ${extra a "cargoClippyExtraArgs" "--all-targets"}";
        };
      };

      cargoTest = cargoDerivation {
        what = "craneLib.cargoTest";
        allowed = cargoTestArgs;
        required = [ "cargoArtifacts" ];
        suffix = "-test";
        commands = a: {
          build = "";
          check = "cargo test --profile release ${extra a "cargoExtraArgs" "--locked"} ${extra a "cargoTestExtraArgs" ""}";
        };
      };

      cargoFmt =
        args:
        cargoDerivation
          {
            what = "craneLib.cargoFmt";
            allowed = cargoFmtArgs;
            suffix = "-fmt";
            commands = a: {
              build = "cargo fmt ${extra a "cargoExtraArgs" ""} -- --check ${extra a "rustFmtExtraArgs" ""}";
            };
          }
          (
            args
            // {
              cargoArtifacts = null;
              cargoVendorDir = null;
            }
          );

      devShell =
        args:
        let
          a = d.checkArgs "craneLib.devShell" devShellArgs [ ] args;
        in
        d.derive system "craneLib.devShell" (
          removeAttrs a [
            "checks"
            "packages"
            "inputsFrom"
          ]
          // {
            name = a.name or "nix-shell";
            nativeBuildInputs = (a.nativeBuildInputs or [ ]) ++ (a.packages or [ ]) ++ [ toolchain ];
            passthru = (a.passthru or { }) // {
              craneFunction = "craneLib.devShell";
              craneArgs = a;
            };
          }
        );
    };
in
{
  # As crane's flake: `crane.mkLib pkgs`, with nixpkgs' own cargo and rustc until
  # overrideToolchain.
  mkLib =
    pkgs:
    mkLib pkgs (
      pkgs.stdenv.mkDerivation {
        pname = "rustc-from-nixpkgs";
        version = "0";
      }
    );
}
