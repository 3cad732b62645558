{{/*
The clusterpedia-core override templates (see its templates/_storage_override.tpl): wait
for PostgreSQL, read the plugin's config from the ConfigMap this chart renders (whose
content the pods' checksum hashes), and pass the password as PGPASSWORD, which the plugin's
PostgreSQL client reads (it stays out of the DSN).
*/}}
{{- define "clusterpedia.storage.override.initContainers" -}}
{{ include "clusterpedia.database.waitInitContainer" . }}
{{- end -}}

{{- define "clusterpedia.storage.override.configmap.name" -}}
{{ include "clusterpedia.database.storageConfigName" . }}
{{- end -}}

{{/* That ConfigMap's content (the sample-storage-layer plugin's config), which the pods' checksum hashes. */}}
{{- define "clusterpedia.storage.override.configmap.data" -}}
{{- include "clusterpedia.database.storageConfigText" (dict "context" . "base" (dict "type" "postgres" "dsn" (include "clusterpedia.database.postgresDSN" .))) -}}
{{- end -}}

{{- define "clusterpedia.storage.override.componentEnv" -}}
{{ include "clusterpedia.database.passwordEnv" (dict "context" . "name" "PGPASSWORD") }}
{{- end -}}
