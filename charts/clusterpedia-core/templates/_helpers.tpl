{{/*
Names. The base name is "clusterpedia" whichever chart (this one or a parent) installs it,
so every flavour names its objects alike.
*/}}
{{- define "clusterpedia.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default "clusterpedia" .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "clusterpedia.apiserver.fullname" -}}
{{- printf "%s-apiserver" (include "clusterpedia.fullname" .) -}}
{{- end -}}

{{- define "clusterpedia.clustersynchroManager.fullname" -}}
{{- printf "%s-clustersynchro-manager" (include "clusterpedia.fullname" .) -}}
{{- end -}}

{{- define "clusterpedia.labels" -}}
app.kubernetes.io/name: clusterpedia
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "context" $ "component" "apiserver") */}}
{{- define "clusterpedia.selectorLabels" -}}
app.kubernetes.io/name: clusterpedia
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* An image reference: (dict "image" .Values.x.image "context" $) */}}
{{- define "clusterpedia.image" -}}
{{- $registry := .image.registry -}}
{{- with .context.Values.global -}}
{{- if .imageRegistry -}}{{- $registry = .imageRegistry -}}{{- end -}}
{{- end -}}
{{- $tag := default .context.Chart.AppVersion (toString .image.tag) -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "clusterpedia.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The directory the plugin init container fills and STORAGE_PLUGINS names. */}}
{{- define "clusterpedia.storage.pluginDir" -}}
/var/lib/clusterpedia/plugins
{{- end -}}

{{- define "clusterpedia.storage.configDir" -}}
/etc/clusterpedia/storage
{{- end -}}

{{/*
The ConfigMap holding the storage layer's config.yaml: a parent chart's override, else the
user's storage.configMap, else the one this chart renders from storage.config, else none.
*/}}
{{- define "clusterpedia.storage.configmap.name" -}}
{{- $override := include "clusterpedia.storage.override.configmap.name" . | trim -}}
{{- if $override -}}
{{- $override -}}
{{- else if .Values.storage.configMap -}}
{{- .Values.storage.configMap -}}
{{- else if .Values.storage.config -}}
{{- printf "%s-storage-config" (include "clusterpedia.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Whether this chart renders the storage ConfigMap itself (from storage.config). */}}
{{- define "clusterpedia.storage.configmap.owned" -}}
{{- if and (not (include "clusterpedia.storage.override.configmap.name" . | trim)) (not .Values.storage.configMap) .Values.storage.config -}}
true
{{- end -}}
{{- end -}}

{{- define "clusterpedia.storage.plugin.enabled" -}}
{{- if .Values.storage.image.repository -}}true{{- end -}}
{{- end -}}

{{/* Init containers: the parent's override first (e.g. wait for the database), then the plugin copy. */}}
{{- define "clusterpedia.initContainers" -}}
{{- $override := include "clusterpedia.storage.override.initContainers" . | trim -}}
{{- if or $override (include "clusterpedia.storage.plugin.enabled" .) }}
initContainers:
{{- if $override }}
{{ $override }}
{{- end }}
{{- if include "clusterpedia.storage.plugin.enabled" . }}
- name: copy-storage-plugin
  image: {{ include "clusterpedia.image" (dict "image" .Values.storage.image "context" .) }}
  imagePullPolicy: {{ .Values.storage.image.pullPolicy }}
  # The plugin image's files, including manifest.json; the components verify every file
  # against it (sha256 and build fingerprint) before loading anything.
  command:
    - /bin/sh
    - -ec
    - cp /plugins/* {{ include "clusterpedia.storage.pluginDir" . }}/
  securityContext:
    {{- include "clusterpedia.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    - name: storage-plugins
      mountPath: {{ include "clusterpedia.storage.pluginDir" . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Storage flags of both components. */}}
{{- define "clusterpedia.storage.args" -}}
{{- if .Values.storage.name }}
- --storage-name={{ .Values.storage.name }}
{{- end }}
{{- if include "clusterpedia.storage.configmap.name" . }}
- --storage-config={{ include "clusterpedia.storage.configDir" . }}/config.yaml
{{- end }}
{{- end -}}

{{/* Environment of both components: STORAGE_PLUGINS, then the override or storage.componentEnv. */}}
{{- define "clusterpedia.storage.env" -}}
{{- if include "clusterpedia.storage.plugin.enabled" . }}
- name: STORAGE_PLUGINS
  value: {{ include "clusterpedia.storage.pluginDir" . }}
{{- end }}
{{- $override := include "clusterpedia.storage.override.componentEnv" . | trim -}}
{{- if $override }}
{{ $override }}
{{- else if .Values.storage.componentEnv }}
{{ toYaml .Values.storage.componentEnv }}
{{- end }}
{{- end -}}

{{- define "clusterpedia.storage.volumeMounts" -}}
{{- if include "clusterpedia.storage.configmap.name" . }}
- name: storage-config
  mountPath: {{ include "clusterpedia.storage.configDir" . }}
  readOnly: true
{{- end }}
{{- if include "clusterpedia.storage.plugin.enabled" . }}
- name: storage-plugins
  mountPath: {{ include "clusterpedia.storage.pluginDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "clusterpedia.storage.volumes" -}}
{{- with include "clusterpedia.storage.configmap.name" . }}
- name: storage-config
  configMap:
    name: {{ . }}
{{- end }}
{{- if include "clusterpedia.storage.plugin.enabled" . }}
- name: storage-plugins
  emptyDir: {}
{{- end }}
{{- end -}}

{{- define "clusterpedia.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "clusterpedia.featureGates" -}}
{{- $gates := list -}}
{{- range $k, $v := . -}}
{{- $gates = append $gates (printf "%s=%v" $k $v) -}}
{{- end -}}
{{- join "," $gates -}}
{{- end -}}
