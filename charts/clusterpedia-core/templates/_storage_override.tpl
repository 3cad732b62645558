{{/*
Override templates for charts that use clusterpedia-core as a subchart. A parent chart
defines templates with these names; Helm parses a parent's templates after its subcharts',
so the parent's definitions replace these empty ones.

They are rendered inside this subchart, so `.Values` is clusterpedia-core's: a parent's
definition should use only `.Release` and `.Values.global` (Helm shares `global` with
subcharts).

- clusterpedia.storage.override.initContainers: init containers (a YAML list) run before
  the apiserver and the clustersynchro-manager, e.g. waiting for the database.
- clusterpedia.storage.override.configmap.name: the name of a ConfigMap with the storage
  layer's `config.yaml`, created by the parent. Wins over storage.configMap and
  storage.config.
- clusterpedia.storage.override.componentEnv: environment (a YAML list) for both
  components, e.g. the database password from a Secret. Wins over storage.componentEnv.

Optional, with configmap.name:
- clusterpedia.storage.override.configmap.data: the `config.yaml` text of that ConfigMap
  (without a final newline; the parent renders it as a `|` block, which adds one). The
  pods' checksum/storage-config hashes it, so a config change rolls them. Without it the
  ConfigMap is read from the cluster where Helm can (install, upgrade), which sees the
  previous release's content.
*/}}
{{- define "clusterpedia.storage.override.initContainers" -}}
{{- end -}}

{{- define "clusterpedia.storage.override.configmap.name" -}}
{{- end -}}

{{- define "clusterpedia.storage.override.componentEnv" -}}
{{- end -}}

{{- define "clusterpedia.storage.override.configmap.data" -}}
{{- end -}}
