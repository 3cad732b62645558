# A stand-in for the rust-overlay flake (github:oxalica/rust-overlay at the revision
# flake.nix pins): overlays.default with rust-bin.fromRustupToolchainFile and
# fromRustupToolchain, which read a toolchain file as the real ones do (lib/rust-bin.nix:
# the [toolchain] table becomes the arguments, so an unknown key is an error) and return a
# real derivation for the toolchain instead of the distributed binaries.
let
  profiles = [
    "minimal"
    "default"
    "complete"
  ];
  knownComponents = [
    "cargo"
    "clippy"
    "rustfmt"
    "rustc"
    "rust-std"
    "rust-src"
    "rust-docs"
    "rust-analyzer"
    "llvm-tools"
    "llvm-tools-preview"
    "miri"
    "rustc-dev"
    "rustc-codegen-cranelift-preview"
  ];
  isChannel =
    c: builtins.match "[0-9]+\\.[0-9]+(\\.[0-9]+)?|stable|beta|nightly(-[0-9]{4}-[0-9]{2}-[0-9]{2})?" c != null;
in
{
  overlays.default = final: prev: {
    rust-bin = rec {
      fromRustupToolchain =
        {
          path ? null,
          channel ? null,
          profile ? null,
          components ? [ ],
          targets ? [ ],
        }:
        let
          p = if profile == null then "default" else profile;
          unknown = builtins.filter (c: !builtins.elem c knownComponents) components;
        in
        if path != null then
          throw "`path` is not supported, please directly add it to your PATH instead"
        else if channel == null then
          throw "`channel` is required"
        else if !isChannel channel then
          throw "rust-overlay (stand-in): no Rust channel ${builtins.toJSON channel}"
        else if !builtins.elem p profiles then
          throw "rust-overlay (stand-in): Rust ${channel} doesn't have profile `${p}`"
        else if unknown != [ ] then
          throw "rust-overlay (stand-in): Rust ${channel} has no component ${builtins.head unknown}"
        else
          final.stdenv.mkDerivation {
            pname = "rust-${p}";
            version = channel;
            env = {
              components = builtins.concatStringsSep " " components;
              targets = builtins.concatStringsSep " " targets;
            };
          };

      fromRustupToolchainFile =
        path:
        let
          content = builtins.readFile path;
          legacy = builtins.match "([^\r\n]+)\r?\n?" content;
        in
        if legacy != null then
          fromRustupToolchain { channel = builtins.head legacy; }
        else
          fromRustupToolchain (builtins.fromTOML content).toolchain;
    };
  };
}
