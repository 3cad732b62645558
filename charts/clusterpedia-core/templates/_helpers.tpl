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

{{/*
The pods' checksum/storage-config: the config.yaml of the ConfigMap they mount, so a change
rolls them. A parent's ConfigMap is hashed through its configmap.data hook, this chart's
from storage.config. A ConfigMap rendered elsewhere (storage.configMap, or a parent that
defines only the configmap.name hook) is read from the cluster where Helm can (install,
upgrade); offline (`helm template`) only its name is hashed.
*/}}
{{- define "clusterpedia.storage.checksum" -}}
{{- $text := "" -}}
{{- if include "clusterpedia.storage.override.configmap.name" . | trim -}}
{{- $text = include "clusterpedia.storage.override.configmap.data" . -}}
{{- else if not .Values.storage.configMap -}}
{{- with .Values.storage.config -}}{{- $text = toYaml . -}}{{- end -}}
{{- end -}}
{{- if $text -}}
{{- /* The ConfigMap's block scalar adds one newline: hash exactly its data. */ -}}
{{- printf "%s\n" $text | sha256sum -}}
{{- else -}}
{{- $name := include "clusterpedia.storage.configmap.name" . -}}
{{- $found := dict -}}
{{- if $name -}}{{- $found = lookup "v1" "ConfigMap" .Release.Namespace $name | default dict -}}{{- end -}}
{{- printf "configmap %s %s" $name (toJson (get $found "data" | default dict)) | sha256sum -}}
{{- end -}}
{{- end -}}

{{/*
Fails on what looks like a secret in a storage config, which ends up in a ConfigMap:
(dict "value" .Values.storage.config "path" "storage.config" "context" $ "hint" "").
Keys are matched without case and punctuation; keys ending in file, path or dir name files,
not secrets. String values are checked for URLs and DSNs that carry a password.
*/}}
{{- define "clusterpedia.storage.refuseSecrets" -}}
{{- $args := . -}}
{{- if kindIs "map" .value -}}
{{- range $k, $v := .value -}}
{{- $key := regexReplaceAll "[^a-z0-9]" (lower (toString $k)) "" -}}
{{- $path := printf "%s.%s" $args.path $k -}}
{{- if and (regexMatch "password|passwd|secret|token|credential|apikey|privatekey" $key) (not (regexMatch "(file|path|dir)$" $key)) -}}
{{- include "clusterpedia.storage.secretFound" (dict "path" $path "what" "a key that looks like a secret" "context" $args.context "hint" $args.hint) -}}
{{- end -}}
{{- include "clusterpedia.storage.refuseSecrets" (dict "value" $v "path" $path "context" $args.context "hint" $args.hint) -}}
{{- end -}}
{{- else if kindIs "slice" .value -}}
{{- range $i, $v := .value -}}
{{- include "clusterpedia.storage.refuseSecrets" (dict "value" $v "path" (printf "%s[%d]" $args.path $i) "context" $args.context "hint" $args.hint) -}}
{{- end -}}
{{- else if kindIs "string" .value -}}
{{- /* scheme://user:password@..., Go MySQL's user:password@tcp(...)/db, libpq's password=... */ -}}
{{- $url := `^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*:[^/?#@]+@` -}}
{{- $goDSN := `^[^:@/()=\s]*:[^@]+@[A-Za-z0-9]*[(/]` -}}
{{- $keyValue := `(^|\s)password\s*=` -}}
{{- $isGoDSN := and (not (contains "://" .value)) (regexMatch $goDSN .value) -}}
{{- if or (regexMatch $url .value) $isGoDSN (regexMatch $keyValue .value) -}}
{{- include "clusterpedia.storage.secretFound" (dict "path" $args.path "what" "a connection string with a password" "context" $args.context "hint" $args.hint) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "clusterpedia.storage.secretFound" -}}
{{- fail (printf "%s holds %s. The storage config is rendered into a ConfigMap, which whoever may read ConfigMaps in namespace %s can read. Keep the secret in a Secret and pass it as environment with componentEnv (clusterpedia-core's storage.componentEnv), e.g. DB_PASSWORD from a secretKeyRef: the internal layer reads DB_PASSWORD, PostgreSQL clients PGPASSWORD. Or name a file with a ...File key.%s" .path .what .context.Release.Namespace (.hint | default "")) -}}
{{- end -}}

{{/*
Checks of the apiserver's values that Helm's schema cannot express. The aggregator must be
able to authenticate to the APIService: a front-proxy CA of the release's own, or one the
apiserver reads from kube-system/extension-apiserver-authentication with delegation.
*/}}
{{- define "clusterpedia.apiserver.validate" -}}
{{- $a := .Values.apiserver -}}
{{- $ownCA := include "clusterpedia.apiserver.requestHeaderCA" . -}}
{{- if and $a.requestHeader.allowedNames (not $ownCA) -}}
{{- fail "apiserver.requestHeader.allowedNames is set without apiserver.requestHeader.clientCA or clientCAConfigMap: the front-proxy CA then comes from kube-system/extension-apiserver-authentication, and the allowed names with it (those names would be ignored). Set the CA too, or leave the names to the ConfigMap." -}}
{{- end -}}
{{- if and $a.apiService.enabled (not $ownCA) -}}
{{- $skipLookup := false -}}
{{- range $a.extraArgs -}}
{{- if regexMatch "^--authentication-skip-lookup(=true)?$" . -}}{{- $skipLookup = true -}}{{- end -}}
{{- end -}}
{{- $why := "" -}}
{{- if not $a.delegation.enabled -}}
{{- $why = "with apiserver.delegation.enabled=false the apiserver does not read the front-proxy CA from kube-system/extension-apiserver-authentication" -}}
{{- else if $skipLookup -}}
{{- $why = "--authentication-skip-lookup in apiserver.extraArgs stops the apiserver from reading the front-proxy CA from kube-system/extension-apiserver-authentication" -}}
{{- end -}}
{{- if $why -}}
{{- fail (printf "the kube-apiserver's aggregator could not authenticate to the APIService v1beta1.clusterpedia.io: %s, and neither apiserver.requestHeader.clientCA nor clientCAConfigMap gives one. Every proxied request would be refused, the APIService would turn unavailable, and API discovery (kubectl api-resources, namespace deletion, helm) would fail cluster-wide. Keep apiserver.delegation.enabled=true without --authentication-skip-lookup, set apiserver.requestHeader.clientCA or clientCAConfigMap, or set apiserver.apiService.enabled=false." $why) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Whether the apiserver has a front-proxy CA from the values (which wins over the ConfigMap's). */}}
{{- define "clusterpedia.apiserver.requestHeaderCA" -}}
{{- if or .Values.apiserver.requestHeader.clientCA .Values.apiserver.requestHeader.clientCAConfigMap -}}true{{- end -}}
{{- end -}}

{{/* Checks of the storage values: no secrets in a config that becomes a ConfigMap. */}}
{{- define "clusterpedia.storage.validate" -}}
{{- with .Values.storage.config -}}
{{- include "clusterpedia.storage.refuseSecrets" (dict "value" . "path" "storage.config" "context" $ "hint" "") -}}
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
{{- with .Values.storage.image.manifestSha256 }}
- name: PEDIA_PLUGIN_MANIFEST_SHA256
  value: {{ . | lower | quote }}
{{- end }}
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
