{{/*
The database of a Clusterpedia-rs release, configured by .Values.global.database:

  type: postgres | mysql
  external: false          # true: use host/port below instead of a StatefulSet
  host: ""                 # external only
  port: 0                  # 0: 5432 or 3306
  user, name               # login and database name
  existingSecret: ""       # a Secret with key `password`; empty: this release creates one
  password: ""             # the created Secret's password; empty: generated once
  sslMode: ""              # PostgreSQL sslmode; empty: the client's default
  image: {registry, repository, tag, pullPolicy}   # empty repository: the type's default
  persistence: {enabled, size, storageClass}
  resources: {}

Only .Release and .Values.global are read, so these render alike in a parent chart and in
the clusterpedia-core subchart.
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
    allowPrivilegeEscalation: false
    capabilities:
      drop: [ALL]
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

{{/* The Secret with the password, unless global.database.existingSecret names one. */}}
{{- define "clusterpedia.database.secret" -}}
{{- $db := .Values.global.database -}}
{{- if not $db.existingSecret }}
{{- $name := include "clusterpedia.database.fullname" . -}}
{{- $password := $db.password -}}
{{- if not $password -}}
{{- if $db.external -}}
{{- fail "global.database.password or global.database.existingSecret is required with an external database" -}}
{{- end -}}
{{- /* Keep the generated password across upgrades: the database was initialised with it. */ -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name -}}
{{- if and $existing $existing.data $existing.data.password -}}
{{- $password = b64dec $existing.data.password -}}
{{- else -}}
{{- $password = randAlphaNum 32 -}}
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
      containers:
        - name: {{ $type }}
          image: {{ include "clusterpedia.database.image" . }}
          imagePullPolicy: {{ (($db.image | default dict).pullPolicy) | default "IfNotPresent" }}
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
