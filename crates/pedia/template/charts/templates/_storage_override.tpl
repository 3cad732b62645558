{{/*
The clusterpedia-core override hooks: a parent chart defines them to hand the components
what its storage needs. Fill in what your layer needs; empty ones change nothing.
*/}}

{{/* Init containers run before the components, e.g. waiting for your database. */}}
{{- define "clusterpedia.storage.override.initContainers" -}}
{{- end -}}

{{/* The ConfigMap holding the layer's config.yaml, if this chart renders its own. */}}
{{- define "clusterpedia.storage.override.configmap.name" -}}
{{- end -}}

{{/* Extra environment for both components, e.g. a password from a Secret. */}}
{{- define "clusterpedia.storage.override.componentEnv" -}}
{{- end -}}
