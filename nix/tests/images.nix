# nix-instantiate --eval --strict nix/tests/images.nix
let
  inherit (import ./harness.nix) run;
  images = (import ../lib).images;
in
run "images" [
  {
    name = "the components the charts deploy";
    actual = images.components;
    expected = [
      "apiserver"
      "clustersynchro-manager"
      "binding-apiserver"
    ];
  }
  {
    name = "a component runs its binary from /usr/local/bin as the nonroot user";
    actual = images.componentConfig "apiserver";
    expected = {
      Entrypoint = [ "/usr/local/bin/apiserver" ];
      User = "65532:65532";
      WorkingDir = "/tmp";
      Env = [ "PATH=/usr/local/bin:/bin" ];
      Labels."org.opencontainers.image.title" = "apiserver";
    };
  }
  {
    name = "a plugin image has what the chart's init container copies, and a shell to copy it";
    actual = images.pluginImagePaths [ "libsample_storage.so" ];
    expected = [
      "/plugins/libsample_storage.so"
      "/plugins/manifest.json"
      "/bin/sh"
      "/bin/cp"
    ];
  }
  {
    name = "reproducible: a fixed creation time";
    actual = images.created;
    expected = "1970-01-01T00:00:01Z";
  }
]
