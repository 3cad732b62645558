# A stand-in for rust-overlay: the toolchain file must exist and name a channel.
{
  overlays.default = final: prev: {
    rust-bin.fromRustupToolchainFile =
      file:
      {
        type = "derivation";
        name = "rust-${(builtins.fromTOML (builtins.readFile file)).toolchain.channel}";
        outPath = "/nix/store/00000000000000000000000000000000-rust";
      };
  };
}
