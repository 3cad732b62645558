{{/*
The database of a Clusterpedia-rs release, configured by .Values.global.database:

  type: postgres | mysql
  external: false          # true: use host/port below instead of a StatefulSet
  host: ""                 # external only
  port: 0                  # 0: 5432 or 3306
  user, name               # login and database name
  existingSecret: ""       # a Secret with key `password`; empty: this release creates one
  password: ""             # the created Secret's password; empty: generated once, which
                           # needs a cluster to look up (see clusterpedia.database.secret)
  sslMode: ""              # PostgreSQL sslmode; empty: the client's default
  image: {registry, repository, tag, pullPolicy}   # empty repository: the type's default
  podSecurityContext: {}   # merged over the default (uid/gid/fsGroup 999, the official images')
  persistence: {enabled, size, storageClass}
  resources: {}

and .Values.global.storageConfig, the storage layer's extra settings.

Only .Release and .Values.global are read, so these render alike in a parent chart and in
the clusterpedia-core subchart. Some templates call clusterpedia-core's helpers
(clusterpedia.storage.refuseSecrets): every chart using this one also has that subchart.
*/}}

{{- define "clusterpedia.database.fullname" -}}
{{- printf "%s-database" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "clusterpedia.database.type" -}}
{{- $t := .Values.global.database.type -}}
{{- if not (has $t (list "postgres" "mysql")) -}}
{{- fail (printf "global.database.type must be postgres or mysql, not %q" $t) -}}
{{- end -}}
{{- $t -}}
{{- end -}}

{{- define "clusterpedia.database.host" -}}
{{- if .Values.global.database.external -}}
{{- required "global.database.host is required with an external database" .Values.global.database.host -}}
{{- else -}}
{{- include "clusterpedia.database.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "clusterpedia.database.port" -}}
{{- if .Values.global.database.port -}}
{{- .Values.global.database.port -}}
{{- else if eq (include "clusterpedia.database.type" .) "mysql" -}}
3306
{{- else -}}
5432
{{- end -}}
{{- end -}}

{{- define "clusterpedia.database.secretName" -}}
{{- default (include "clusterpedia.database.fullname" .) .Values.global.database.existingSecret -}}
{{- end -}}

{{- define "clusterpedia.database.image" -}}
{{- $db := .Values.global.database -}}
{{- $defaults := dict "postgres" (dict "registry" "docker.io" "repository" "library/postgres" "tag" "16") "mysql" (dict "registry" "docker.io" "repository" "library/mysql" "tag" "8.4") -}}
{{- $image := $db.image | default dict -}}
{{- if not $image.repository -}}
{{- $image = index $defaults (include "clusterpedia.database.type" .) -}}
{{- end -}}
{{- $registry := default $image.registry .Values.global.imageRegistry -}}
{{- if $registry -}}
{{- printf "%s/%s:%v" $registry $image.repository $image.tag -}}
{{- else -}}
{{- printf "%s:%v" $image.repository $image.tag -}}
{{- end -}}
{{- end -}}

{{/*
The database pod's securityContext: Pod Security `restricted` (non-root, RuntimeDefault
seccomp) as the official postgres and mysql images' user (uid and gid 999), with fsGroup so
that user owns the data volume. global.database.podSecurityContext is merged over it (other
images run as other users).
*/}}
{{- define "clusterpedia.database.podSecurityContext" -}}
{{- $defaults := dict "runAsNonRoot" true "runAsUser" 999 "runAsGroup" 999 "fsGroup" 999 "fsGroupChangePolicy" "OnRootMismatch" "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mergeOverwrite $defaults (deepCopy (.Values.global.database.podSecurityContext | default dict))) -}}
{{- end -}}

{{/* A container's securityContext under Pod Security `restricted`, as the database's user. */}}
{{- define "clusterpedia.database.containerSecurityContext" -}}
{{- $pod := include "clusterpedia.database.podSecurityContext" . | fromYaml -}}
runAsNonRoot: true
{{- with $pod.runAsUser }}
runAsUser: {{ . }}
{{- end }}
{{- with $pod.runAsGroup }}
runAsGroup: {{ . }}
{{- end }}
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Percent-encoding for a URL's user or path segment. urlquery is Go's QueryEscape, which
encodes everything but letters, digits and -_.~, with a space as "+": as "%20" it is valid in
every part of a URL, and a literal "+" was already "%2B".
*/}}
{{- define "clusterpedia.database.urlEscape" -}}
{{- urlquery . | replace "+" "%20" -}}
{{- end -}}

{{/* The PostgreSQL URL without a password (clients read PGPASSWORD). */}}
{{- define "clusterpedia.database.postgresDSN" -}}
{{- $db := .Values.global.database -}}
{{- $dsn := printf "postgres://%s@%s:%s/%s" (include "clusterpedia.database.urlEscape" $db.user) (include "clusterpedia.database.host" .) (include "clusterpedia.database.port" .) (include "clusterpedia.database.urlEscape" $db.name) -}}
{{- if $db.sslMode }}{{ $dsn = printf "%s?sslmode=%s" $dsn (include "clusterpedia.database.urlEscape" $db.sslMode) }}{{ end -}}
{{- $dsn -}}
{{- end -}}

{{/*
A storage layer's config.yaml text: (dict "context" $ "base" $settings), with
global.storageConfig merged over the base settings. Refuses secrets in global.storageConfig,
which would land in the ConfigMap. A parent returns this from its
clusterpedia.storage.override.configmap.data hook and renders its ConfigMap from the same
hook, so the pods' checksum/storage-config is the ConfigMap's content.
*/}}
{{- define "clusterpedia.database.storageConfigText" -}}
{{- $extra := .context.Values.global.storageConfig | default dict -}}
{{- include "clusterpedia.storage.refuseSecrets" (dict "value" $extra "path" "global.storageConfig" "context" .context "hint" " The database password already travels that way: set global.database.password or global.database.existingSecret.") -}}
{{- toYaml (mergeOverwrite .base (deepCopy $extra)) -}}
{{- end -}}

{{- define "clusterpedia.database.labels" -}}
app.kubernetes.io/name: clusterpedia-database
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: database
{{- end -}}

{{/* An env entry with the password from the Secret: (dict "context" $ "name" "DB_PASSWORD") */}}
{{- define "clusterpedia.database.passwordEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "clusterpedia.database.secretName" .context }}
      key: password
{{- end -}}

{{/*
The init container that waits until the database accepts connections, so the components
do not crash-loop while a fresh StatefulSet initialises. Uses the database's own image for
its client (pg_isready / mysqladmin).
*/}}
{{- define "clusterpedia.database.waitInitContainer" -}}
{{- $db := .Values.global.database -}}
- name: wait-for-database
  image: {{ include "clusterpedia.database.image" . }}
  imagePullPolicy: {{ (($db.image | default dict).pullPolicy) | default "IfNotPresent" }}
  command:
    - /bin/sh
    - -ec
    {{- if eq (include "clusterpedia.database.type" .) "postgres" }}
    - |
      until pg_isready --host="$DB_HOST" --port="$DB_PORT" --username="$DB_USER" --dbname="$DB_NAME"; do
        echo "waiting for PostgreSQL at $DB_HOST:$DB_PORT"; sleep 2
      done
    {{- else }}
    - |
      until mysqladmin ping --host="$DB_HOST" --port="$DB_PORT" --user="$DB_USER" --password="$DB_PASSWORD" --silent; do
        echo "waiting for MySQL at $DB_HOST:$DB_PORT"; sleep 2
      done
    {{- end }}
  env:
    - name: DB_HOST
      value: {{ include "clusterpedia.database.host" . | quote }}
    - name: DB_PORT
      value: {{ include "clusterpedia.database.port" . | quote }}
    - name: DB_USER
      value: {{ $db.user | quote }}
    - name: DB_NAME
      value: {{ $db.name | quote }}
    {{- include "clusterpedia.database.passwordEnv" (dict "context" . "name" "DB_PASSWORD") | nindent 4 }}
  securityContext:
    {{- include "clusterpedia.database.containerSecurityContext" . | nindent 4 }}
{{- end -}}

{{/* The `internal` storage layer's config.yaml (the password comes from DB_PASSWORD). */}}
{{- define "clusterpedia.database.internalConfig" -}}
{{- $db := .Values.global.database -}}
type: {{ include "clusterpedia.database.type" . }}
host: {{ include "clusterpedia.database.host" . | quote }}
port: {{ include "clusterpedia.database.port" . }}
user: {{ $db.user | quote }}
database: {{ $db.name | quote }}
{{- if and $db.sslMode (eq (include "clusterpedia.database.type" .) "postgres") }}
sslMode: {{ $db.sslMode | quote }}
{{- end }}
{{- end -}}

{{/*
The Secret with the password, unless global.database.existingSecret names one. Without
global.database.password a random one is generated at the first install and read back
(lookup) at every upgrade, because the database was initialised with it. Where lookup cannot
see the cluster (helm template, helm install --dry-run, GitOps tools that render offline)
a generated password would differ on every render, so one is required there.
*/}}
{{- define "clusterpedia.database.secret" -}}
{{- $db := .Values.global.database -}}
{{- if not $db.existingSecret }}
{{- $name := include "clusterpedia.database.fullname" . -}}
{{- $password := $db.password -}}
{{- if not $password -}}
{{- if $db.external -}}
{{- fail "global.database.password or global.database.existingSecret is required with an external database" -}}
{{- end -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name -}}
{{- if and $existing $existing.data $existing.data.password -}}
{{- $password = b64dec $existing.data.password -}}
{{- else if lookup "v1" "Namespace" "" "kube-system" -}}
{{- /* A cluster is there and has no password yet: the first install. */ -}}
{{- $password = randAlphaNum 32 -}}
{{- else -}}
{{- fail "global.database.password or global.database.existingSecret is required when the chart is rendered without a cluster (helm template, helm install --dry-run, GitOps tools such as Argo CD): lookup cannot read the Secret an earlier install generated, so a password generated now would change on every render and lock the components out of the database initialised with the first one. Set global.database.password (this chart keeps it in its Secret), or point global.database.existingSecret at a Secret with the key `password`." -}}
{{- end -}}
{{- end }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "clusterpedia.database.labels" . | nindent 4 }}
  annotations:
    # Deleting the password of a database that outlives the release would lock it out.
    helm.sh/resource-policy: keep
type: Opaque
data:
  password: {{ $password | b64enc | quote }}
{{- end }}
{{- end -}}

{{/* The single-instance database: Service and StatefulSet (none with an external database). */}}
{{- define "clusterpedia.database.statefulset" -}}
{{- $db := .Values.global.database -}}
{{- if not $db.external }}
{{- $type := include "clusterpedia.database.type" . -}}
{{- $port := include "clusterpedia.database.port" . -}}
{{- $name := include "clusterpedia.database.fullname" . -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "clusterpedia.database.labels" . | nindent 4 }}
spec:
  ports:
    - name: {{ $type }}
      port: {{ $port }}
      targetPort: {{ $type }}
  selector:
    {{- include "clusterpedia.database.labels" . | nindent 4 }}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "clusterpedia.database.labels" . | nindent 4 }}
spec:
  serviceName: {{ $name }}
  replicas: 1
  selector:
    matchLabels:
      {{- include "clusterpedia.database.labels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "clusterpedia.database.labels" . | nindent 8 }}
    spec:
      securityContext:
        {{- include "clusterpedia.database.podSecurityContext" . | nindent 8 }}
      containers:
        - name: {{ $type }}
          image: {{ include "clusterpedia.database.image" . }}
          imagePullPolicy: {{ (($db.image | default dict).pullPolicy) | default "IfNotPresent" }}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: [ALL]
          {{- if eq $type "postgres" }}
          env:
            - name: POSTGRES_USER
              value: {{ $db.user | quote }}
            - name: POSTGRES_DB
              value: {{ $db.name | quote }}
            {{- include "clusterpedia.database.passwordEnv" (dict "context" . "name" "POSTGRES_PASSWORD") | nindent 12 }}
            - name: PGDATA
              value: /var/lib/postgresql/data/pgdata
          ports:
            - name: postgres
              containerPort: {{ $port }}
          readinessProbe:
            exec:
              command: [sh, -c, 'pg_isready --host=127.0.0.1 --port={{ $port }} --username="$POSTGRES_USER" --dbname="$POSTGRES_DB"']
            periodSeconds: 5
          volumeMounts:
            - name: data
              mountPath: /var/lib/postgresql/data
          {{- else }}
          args:
            - --port={{ $port }}
            # Byte-wise comparison, as the internal layer's keyset paging expects.
            - --character-set-server=utf8mb4
            - --collation-server=utf8mb4_bin
          env:
            - name: MYSQL_RANDOM_ROOT_PASSWORD
              value: "yes"
            - name: MYSQL_DATABASE
              value: {{ $db.name | quote }}
            - name: MYSQL_USER
              value: {{ $db.user | quote }}
            {{- include "clusterpedia.database.passwordEnv" (dict "context" . "name" "MYSQL_PASSWORD") | nindent 12 }}
          ports:
            - name: mysql
              containerPort: {{ $port }}
          readinessProbe:
            exec:
              command: [sh, -c, 'mysqladmin ping --host=127.0.0.1 --port={{ $port }} --user="$MYSQL_USER" --password="$MYSQL_PASSWORD" --silent']
            periodSeconds: 5
          volumeMounts:
            - name: data
              mountPath: /var/lib/mysql
          {{- end }}
          {{- with $db.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
  {{- if $db.persistence.enabled }}
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        {{- with $db.persistence.storageClass }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $db.persistence.size }}
  {{- else }}
      volumes:
        - name: data
          emptyDir: {}
  {{- end }}
{{- end }}
{{- end -}}

{{/* The ConfigMap with the storage layer's config.yaml that a parent chart renders. */}}
{{- define "clusterpedia.database.storageConfigName" -}}
{{- printf "%s-storage-config" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
