{{/*
Names, labels and shared snippets of starcast-serving. Every helper is prefixed with the chart
name so a parent chart's helpers never collide with these.
*/}}

{{- define "starcast-serving.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* release-chart, or the release name alone when it already contains the chart name. */}}
{{- define "starcast-serving.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "starcast-serving.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The standard labels of every object. */}}
{{- define "starcast-serving.labels" -}}
helm.sh/chart: {{ include "starcast-serving.chart" . }}
{{ include "starcast-serving.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: starcast
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "starcast-serving.selectorLabels" -}}
app.kubernetes.io/name: {{ include "starcast-serving.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component's objects: (dict "root" $ "component" "worker"). */}}
{{- define "starcast-serving.componentLabels" -}}
{{ include "starcast-serving.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector of one component's pods; never includes a label that changes (version, model). */}}
{{- define "starcast-serving.componentSelector" -}}
{{ include "starcast-serving.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "starcast-serving.componentName" -}}
{{- printf "%s-%s" (include "starcast-serving.fullname" .root | trunc 52 | trimSuffix "-") .component }}
{{- end }}

{{- define "starcast-serving.serviceAccountName" -}}
{{- if .root.Values.serviceAccount.create }}
{{- include "starcast-serving.componentName" . }}
{{- else }}
{{- "default" }}
{{- end }}
{{- end }}

{{- define "starcast-serving.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* The Secret holding the broker URL (key in starcast-serving.brokerSecretKey). */}}
{{- define "starcast-serving.brokerSecretName" -}}
{{- if and .Values.rabbitmq.enabled .Values.rabbitmq.auth.existingSecret }}
{{- .Values.rabbitmq.auth.existingSecret }}
{{- else if and (not .Values.rabbitmq.enabled) .Values.externalBroker.existingSecret }}
{{- .Values.externalBroker.existingSecret }}
{{- else }}
{{- printf "%s-broker" (include "starcast-serving.fullname" .) }}
{{- end }}
{{- end }}

{{- define "starcast-serving.brokerSecretKey" -}}
{{- if and (not .Values.rabbitmq.enabled) .Values.externalBroker.existingSecret }}
{{- .Values.externalBroker.existingSecretKey }}
{{- else }}
{{- "url" }}
{{- end }}
{{- end }}

{{- define "starcast-serving.rabbitmqHost" -}}
{{- printf "%s.%s.svc" (include "starcast-serving.componentName" (dict "root" . "component" "rabbitmq")) .Release.Namespace }}
{{- end }}

{{- define "starcast-serving.storageSecretName" -}}
{{- default (printf "%s-storage" (include "starcast-serving.fullname" .)) .Values.storage.s3.existingSecret }}
{{- end }}

{{- define "starcast-serving.storageSecretEnabled" -}}
{{- if or .Values.storage.s3.existingSecret .Values.storage.s3.accessKeyId }}true{{ end }}
{{- end }}

{{/* Settings-level checks that JSON schema can't express; each says what to change. */}}
{{- define "starcast-serving.validate" -}}
{{- if and (not .Values.rabbitmq.enabled) (not .Values.externalBroker.url) (not .Values.externalBroker.existingSecret) }}
{{- fail "rabbitmq.enabled is false: set externalBroker.url or externalBroker.existingSecret to the broker the frontend and workers use" }}
{{- end }}
{{- if and .Values.worker.autoscaling.enabled .Values.worker.keda.enabled }}
{{- fail "worker.autoscaling.enabled and worker.keda.enabled are both true: KEDA makes its own HPA; enable one of them" }}
{{- end }}
{{- if and .Values.worker.autoscaling.enabled (not (dig "requests" "cpu" "" .Values.worker.resources)) }}
{{- fail "worker.autoscaling.enabled needs worker.resources.requests.cpu: the HPA's CPU target is a share of the request" }}
{{- end }}
{{- if and .Values.worker.keda.enabled (eq (int .Values.worker.keda.minReplicaCount) 0) (eq .Values.frontend.readinessProbe.path "/readyz") }}
{{- fail "worker.keda.minReplicaCount is 0 (scale to zero) but frontend.readinessProbe.path is /readyz, which fails while no worker runs, so no request would ever reach the queue: set frontend.readinessProbe.path=/healthz" }}
{{- end }}
{{- if and .Values.storage.s3.accessKeyId (not .Values.storage.s3.secretAccessKey) }}
{{- fail "storage.s3.accessKeyId is set without storage.s3.secretAccessKey" }}
{{- end }}
{{- if and .Values.worker.model.sha256 (not .Values.worker.model.uri) }}
{{- fail "worker.model.sha256 is set without worker.model.uri" }}
{{- end }}
{{- if and .Values.worker.model.uri (not .Values.worker.model.sha256) }}
{{- fail "worker.model.uri is set without worker.model.sha256: workers refuse a model whose digest they were not given" }}
{{- end }}
{{- end }}

{{/* Env both the frontend and the workers read: the broker, from its Secret. */}}
{{- define "starcast-serving.brokerEnv" -}}
- name: STARCAST_BROKER_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "starcast-serving.brokerSecretName" . }}
      key: {{ include "starcast-serving.brokerSecretKey" . }}
{{- end }}

{{/* Volumes every container needs with a read-only root filesystem: a writable /tmp. */}}
{{- define "starcast-serving.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end }}

{{- define "starcast-serving.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Rolls the pods when the shared settings or the chart-owned Secrets change. */}}
{{- define "starcast-serving.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secrets: {{ include (print .Template.BasePath "/secrets.yaml") . | sha256sum }}
{{- end }}

{{/*
The worker's model as JSON {uri, sha256, version}. From values, unless a ModelRelease owns it:
when the live worker Deployment has fields managed by starcast-operator (its server-side apply),
the model is read back from the live pod template. Helm 3's upgrade is a three-way merge against
the live object, so rendering the values' model there would undo a release on any upgrade.
*/}}
{{- define "starcast-serving.workerModel" -}}
{{- $model := dict "uri" .Values.worker.model.uri "sha256" .Values.worker.model.sha256 "version" .Values.worker.model.version "releasedBy" "" }}
{{- $name := include "starcast-serving.componentName" (dict "root" . "component" "worker") }}
{{- $live := lookup "apps/v1" "Deployment" .Release.Namespace $name }}
{{- if $live }}
{{- range $live.metadata.managedFields }}
{{- if eq .manager "starcast-operator" }}
{{- $_ := set $model "releasedBy" "starcast-operator" }}
{{- end }}
{{- end }}
{{- end }}
{{- if $model.releasedBy }}
{{- $_ := set $model "uri" "" }}
{{- $_ := set $model "sha256" "" }}
{{- $_ := set $model "version" (dig "spec" "template" "metadata" "labels" "starcast.io/model-version" "" $live) }}
{{- range $live.spec.template.spec.containers }}
{{- if eq .name "worker" }}
{{- range .env }}
{{- if eq .name "STARCAST_MODEL_URI" }}{{ $_ := set $model "uri" .value }}{{ end }}
{{- if eq .name "STARCAST_MODEL_SHA256" }}{{ $_ := set $model "sha256" .value }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $model }}
{{- end }}
