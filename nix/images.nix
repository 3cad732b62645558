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

  # The plugin builds an image holds the runtime closure of: their store paths in a label
  # of the config, which dockerTools puts with its closure into the image.
  withPluginClosure =
    config: plugins:
    config
    // {
      Labels = (config.Labels or { }) // {
        ${layout.pluginClosureLabel} = lib.concatMapStringsSep " " toString plugins;
      };
    };
in
{
  # A component: its binary as /usr/local/bin/<name> (the charts' `command`), its closure
  # (glibc and friends, which plugins loaded into it use too), the closure of `plugins`
  # (libraries they link), a writable /tmp.
  component =
    {
      name,
      version,
      package,
      plugins,
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
      config = withPluginClosure (layout.componentConfig name) plugins;
    };

  # A storage plugin: /plugins/<file>.so and /plugins/manifest.json (copies, not links: the
  # chart's init container copies them out with busybox's sh and cp), and the plugins'
  # runtime closure.
  plugin =
    {
      name,
      version,
      pluginDir,
      plugins,
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
      config = withPluginClosure (layout.pluginConfig name) plugins;
    };
}
