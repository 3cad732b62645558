{
  description = "@LAYER@: a Clusterpedia-rs storage plugin";

  # The Clusterpedia-rs revision whose components will load this plugin.
  inputs.clusterpedia.url = "@FLAKE_URL@";

  outputs = { self, clusterpedia }: let
    plugin = clusterpedia.lib.mkStoragePlugin {
      name = "@LAYER@"; # the storage-layer name it registers
      src = self;       # this project; its Cargo.lock
    };
  in {
    overlays.default = plugin;
    packages = clusterpedia.lib.eachSystem plugin (c: {
      default = c.plugins."@LAYER@";
      apiserver = c.apiserver.withPlugins (ps: [ ps."@LAYER@" ]);
      image = c.images."@LAYER@";
    });
  };
}
