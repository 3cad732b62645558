# nix-instantiate --eval --strict nix/tests/manifest.nix
let
  inherit (import ./harness.nix) run throws mentions;
  inherit ((import ../lib).manifest) mk errors toJSON;
  fp = "pedia-fp/2;rustc=1.95.0;rustc-commit=abc;target=x86_64-unknown-linux-gnu;api=0.1.0;closure=0123";
  sha = builtins.hashString "sha256" "plugin bytes";
  entry = {
    name = "sample-storage-layer";
    file = "libsample_storage.so";
    sha256 = sha;
    fingerprint = fp;
  };
  other = entry // {
    name = "other-layer";
    file = "libother.so";
  };
in
run "manifest" [
  {
    name = "the manifest format the components read";
    actual = builtins.fromJSON (toJSON (mk {
      fingerprint = fp;
      plugins = [ entry ];
    }));
    expected = {
      version = 1;
      fingerprint = fp;
      plugins = [
        {
          name = "sample-storage-layer";
          file = "libsample_storage.so";
          sha256 = sha;
          fingerprint = fp;
        }
      ];
    };
  }
  {
    name = "entries keep their order and only the manifest's fields";
    actual = map (p: p.file) (mk {
      fingerprint = fp;
      plugins = [
        (other // { extra = 1; })
        entry
      ];
    }).plugins;
    expected = [
      "libother.so"
      "libsample_storage.so"
    ];
  }
  {
    name = "an empty directory is a valid manifest";
    actual = (mk {
      fingerprint = fp;
      plugins = [ ];
    }).plugins;
    expected = [ ];
  }
  {
    name = "a plugin of another build is named";
    actual = mentions "libsample_storage.so was built with fingerprint.*lib.mkStoragePlugin.*pedia plugin lock" (errors {
      fingerprint = fp;
      plugins = [ (entry // { fingerprint = "pedia-fp/1;rustc=1.93.0"; }) ];
    });
    expected = true;
  }
  {
    name = "a bad sha256";
    actual = mentions "sha256.*64 lower-case hex" (errors {
      fingerprint = fp;
      plugins = [ (entry // { sha256 = "ABC"; }) ];
    });
    expected = true;
  }
  {
    name = "duplicate storage names come from the plugin-set checks";
    actual = mentions "registered by more than one plugin" (errors {
      fingerprint = fp;
      plugins = [
        entry
        (other // { name = entry.name; })
      ];
    });
    expected = true;
  }
  {
    name = "mk refuses an invalid manifest";
    actual = throws (mk {
      fingerprint = "";
      plugins = [ entry ];
    });
    expected = true;
  }
]
