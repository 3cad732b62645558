# Container images with dockerTools.streamLayeredImage: `nix build .#apiserver-image`
# gives a script that streams the image (`./result | podman load`). The layout comes from
# lib/images.nix and matches `cargo xtask image` and what the Helm charts expect. The
# creation time is fixed (no `created = "now"`), so the same inputs give the same image.
{
  lib,
  dockerTools,
  pkgsStatic,
  nixLib,
}:
let
  layout = nixLib.images;
in
{
  # A component: its binary as /usr/local/bin/<name> (the charts' `command`), its closure
  # (glibc and friends, which plugins loaded into it use too), a writable /tmp.
  component =
    {
      name,
      version,
      package,
    }:
    dockerTools.streamLayeredImage {
      name = "clusterpedia-rs/${name}";
      tag = version;
      inherit (layout) created;
      contents = [ package ];
      extraCommands = ''
        mkdir -p .${layout.binDir} tmp
        chmod 1777 tmp
        ln -s ${package}/bin/${name} .${layout.binDir}/${name}
      '';
      config = layout.componentConfig name;
    };

  # A storage plugin: /plugins/<file>.so and /plugins/manifest.json (copies, not links: the
  # chart's init container copies them out with busybox's sh and cp).
  plugin =
    {
      name,
      version,
      pluginDir,
    }:
    dockerTools.streamLayeredImage {
      name = "clusterpedia-rs/${name}";
      tag = version;
      inherit (layout) created;
      contents = [ pkgsStatic.busybox ];
      extraCommands = ''
        mkdir -p .${layout.pluginDir}
        cp ${pluginDir}/* .${layout.pluginDir}/
        chmod 0644 .${layout.pluginDir}/*
      '';
      config = layout.pluginConfig name;
    };
}
