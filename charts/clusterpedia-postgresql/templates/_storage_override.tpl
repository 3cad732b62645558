{{/*
The clusterpedia-core override templates (see its templates/_storage_override.tpl): wait
for PostgreSQL, read the plugin's config from the ConfigMap this chart renders, and pass the
password as PGPASSWORD, which the plugin's PostgreSQL client reads (it stays out of the DSN).
*/}}
{{- define "clusterpedia.storage.override.initContainers" -}}
{{ include "clusterpedia.database.waitInitContainer" . }}
{{- end -}}

{{- define "clusterpedia.storage.override.configmap.name" -}}
{{ include "clusterpedia.database.storageConfigName" . }}
{{- end -}}

{{- define "clusterpedia.storage.override.componentEnv" -}}
{{ include "clusterpedia.database.passwordEnv" (dict "context" . "name" "PGPASSWORD") }}
{{- end -}}
