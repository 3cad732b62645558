# Every output of flake.nix evaluated with the stand-ins, down to derivation paths, for
# packaging-tests' nix.rs: packages, checks, devShells and formatter of both systems, the
# overlay's package set with its images, and a plugin flake's outputs with two out-of-tree
# plugins (lib.mkStoragePlugin over nix/tests/fixtures/plugins).
let
  outputs = import ./. { };
  fixtures = ../fixtures/plugins;
  drvPaths = builtins.mapAttrs (_: d: d.drvPath);
  plugin = outputs.lib.mkStoragePlugin [
    {
      name = "alpha-storage-layer";
      src = fixtures + "/alpha";
    }
    {
      name = "beta-storage-layer";
      src = fixtures + "/beta";
    }
  ];
  pluginFlake = outputs.lib.eachSystem plugin (c: {
    plugins = drvPaths c.plugins;
    allPlugins = c.allPlugins.drvPath;
    images = drvPaths c.images;
    apiserver = (c.apiserver.withPlugins (ps: [ ps.alpha-storage-layer ps.beta-storage-layer ])).drvPath;
  });
in
builtins.mapAttrs (system: _: {
  packages = drvPaths outputs.packages.${system};
  checks = drvPaths outputs.checks.${system};
  devShells = drvPaths outputs.devShells.${system};
  formatter = outputs.formatter.${system}.drvPath;
  overlay = {
    images = drvPaths outputs.legacyPackages.${system}.clusterpedia.images;
    rust = outputs.legacyPackages.${system}.rust-bin ? fromRustupToolchainFile;
  };
  pluginFlake = pluginFlake.${system};
}) outputs.packages
