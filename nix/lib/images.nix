# The layout of the container images, shared by the Nix images (../images.nix) and
# documented for `cargo xtask image` (crates/xtask/src/image.rs), which builds the same:
# what the Helm charts rely on (binary paths, the plugin directory the init container copies).
let
  user = "65532:65532";
  binDir = "/usr/local/bin";
  pluginDir = "/plugins";
in
{
  inherit user binDir pluginDir;

  # Components that get an image.
  components = [
    "apiserver"
    "clustersynchro-manager"
    "binding-apiserver"
  ];

  # A fixed creation time, so images are reproducible (dockerTools' default; never "now").
  created = "1970-01-01T00:00:01Z";

  # The OCI config of a component image.
  componentConfig = name: {
    Entrypoint = [ "${binDir}/${name}" ];
    User = user;
    WorkingDir = "/tmp";
    Env = [ "PATH=${binDir}:/bin" ];
    Labels."org.opencontainers.image.title" = name;
  };

  # The paths a plugin image holds: each plugin file and the manifest in /plugins, and the
  # shell and cp the chart's init container runs (`cp /plugins/* <plugin dir>`).
  pluginImagePaths =
    files:
    map (f: "${pluginDir}/${f}") files
    ++ [
      "${pluginDir}/manifest.json"
      "/bin/sh"
      "/bin/cp"
    ];

  # The label of every image that names the plugin builds whose runtime closure the image
  # holds, space-separated store paths. A store path in the config puts that path's closure
  # into the image (dockerTools includes what the config references), so a plugin linking a
  # C library finds it at dlopen time also in a component container whose /plugins the
  # chart's init container filled from a plugin image.
  pluginClosureLabel = "io.clusterpedia.plugin-builds";

  pluginConfig = name: {
    Cmd = [ "/bin/sh" ];
    Labels = {
      "org.opencontainers.image.title" = name;
      "io.clusterpedia.storage-layer" = name;
    };
  };
}
