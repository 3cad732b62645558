# The stand-in package set: the nixpkgs functions and packages the flake uses, with the real
# ones' arguments (a name the real function does not take is an error) producing real
# derivations that cannot be built (../derivation.nix). Overlays compose as in nixpkgs.
{
  lib,
  system,
  overlays,
}:
let
  d = import ../derivation.nix;

  mkDerivation = d.mkDerivation system;
  package =
    pname: version:
    mkDerivation pname {
      inherit pname version;
      meta.description = "stand-in for nixpkgs' ${pname}";
    };

  callPackageWith =
    autoArgs: fn: args:
    let
      f = if lib.isFunction fn then fn else import fn;
      formals = builtins.functionArgs f;
      given = builtins.intersectAttrs formals autoArgs // args;
      missing = builtins.filter (k: !formals.${k} && !(given ? ${k})) (builtins.attrNames formals);
    in
    if missing != [ ] then
      throw "callPackage (stand-in): function called without required argument \"${builtins.head missing}\" (${toString fn})"
    else
      lib.makeOverridable f given;

  # dockerTools.streamLayeredImage: the real function's arguments (nixpkgs'
  # pkgs/build-support/docker/default.nix), and its structure: the config and the
  # customisation layer are the closure roots of the image.
  streamLayeredImage =
    {
      name,
      tag ? null,
      fromImage ? null,
      contents ? [ ],
      config ? { },
      architecture ? "amd64",
      created ? "1970-01-01T00:00:01Z",
      mtime ? "1970-01-01T00:00:01Z",
      uid ? 0,
      gid ? 0,
      uname ? "root",
      gname ? "root",
      maxLayers ? 100,
      extraCommands ? "",
      fakeRootCommands ? "",
      enableFakechroot ? false,
      includeStorePaths ? true,
      includeNixDB ? false,
      passthru ? { },
      meta ? { },
      layeringPipeline ? null,
      debug ? false,
    }@args:
    let
      baseName = baseNameOf name;
      baseJson = writeText "${baseName}-config.json" (
        builtins.toJSON {
          inherit config created architecture;
          os = "linux";
        }
      );
      customisationLayer = mkDerivation "streamLayeredImage" {
        name = "${baseName}-customisation-layer";
        env = {
          inherit extraCommands fakeRootCommands;
          paths = toString contents;
        };
      };
    in
    mkDerivation "streamLayeredImage" {
      name = "stream-${baseName}";
      env = {
        conf = builtins.toJSON {
          inherit created mtime;
          repo_tag = "${lib.toLower name}:${if tag == null then "" else tag}";
          closure_roots = if includeStorePaths then [ "${baseJson}" "${customisationLayer}" ] else [ ];
        };
      };
      passthru = passthru // {
        imageTag = tag;
        imageName = lib.toLower name;
        isExe = true;
        # What the flake asked for, for the tests.
        imageArgs = args;
      };
      inherit meta;
    };

  writeTextFile =
    {
      name,
      text,
      executable ? false,
      destination ? "",
      checkPhase ? "",
      meta ? { },
      passthru ? { },
      allowSubstitutes ? false,
      preferLocalBuild ? true,
      derivationArgs ? { },
    }:
    mkDerivation "writeTextFile" (
      derivationArgs
      // {
        inherit
          name
          meta
          passthru
          allowSubstitutes
          preferLocalBuild
          ;
        env = {
          inherit text destination;
          executable = if executable then "1" else "";
        };
        passAsFile = [ "text" ];
        buildCommand = checkPhase;
      }
    );
  writeText = name: text: writeTextFile { inherit name text; };

  base = final: {
    inherit lib;
    pkgs = final;
    stdenv = {
      hostPlatform = {
        inherit system;
      };
      buildPlatform = {
        inherit system;
      };
      mkDerivation = mkDerivation "stdenv.mkDerivation";
    };
    callPackage = callPackageWith final;

    runCommand =
      name: env: buildCommand:
      if !builtins.isAttrs env then
        throw "runCommand (stand-in): the second argument is the derivation's attributes, got a ${builtins.typeOf env}"
      else
        mkDerivation "runCommand (env of ${name})" (env // { inherit name buildCommand; });
    inherit writeText writeTextFile;
    writeShellScriptBin =
      name: text:
      writeTextFile {
        inherit name;
        executable = true;
        destination = "/bin/${name}";
        text = "#!/bin/sh\n${text}";
        meta.mainProgram = name;
      };

    dockerTools = {
      inherit streamLayeredImage;
    };

    makeWrapper = package "make-shell-wrapper-hook" "0";
    jq = package "jq" "1.8.1";
    kubectl = package "kubectl" "1.33.0";
    kubernetes-helm = package "kubernetes-helm" "3.18.0";
    umoci = package "umoci" "0.5.0";
    podman = package "podman" "5.5.0";
    nixfmt = package "nixfmt" "1.0.0";
    sqlite = package "sqlite" "3.50.0";
    pkg-config = package "pkg-config-wrapper" "0.29.2";
    pkgsStatic = {
      busybox = package "busybox-static" "1.37.0";
    };
  };

  extends =
    overlay: f: final:
    let
      prev = f final;
    in
    prev // overlay final prev;
  composed = builtins.foldl' (f: overlay: extends overlay f) base overlays;
  pkgs = composed pkgs;
in
pkgs
