{{/*
The clusterpedia-core override templates (see its templates/_storage_override.tpl): wait
for the database, read the storage config from the ConfigMap this chart renders (whose content
the pods' checksum hashes), and pass the password as DB_PASSWORD, which the internal
layer reads.
*/}}
{{- define "clusterpedia.storage.override.initContainers" -}}
{{ include "clusterpedia.database.waitInitContainer" . }}
{{- end -}}

{{- define "clusterpedia.storage.override.configmap.name" -}}
{{ include "clusterpedia.database.storageConfigName" . }}
{{- end -}}

{{/* That ConfigMap's content (the internal layer's config), which the pods' checksum hashes. */}}
{{- define "clusterpedia.storage.override.configmap.data" -}}
{{- include "clusterpedia.database.storageConfigText" (dict "context" . "base" (include "clusterpedia.database.internalConfig" . | fromYaml)) -}}
{{- end -}}

{{- define "clusterpedia.storage.override.componentEnv" -}}
{{ include "clusterpedia.database.passwordEnv" (dict "context" . "name" "DB_PASSWORD") }}
{{- end -}}
