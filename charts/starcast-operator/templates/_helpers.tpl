{{/*
Names, labels and shared snippets of starcast-operator. Every helper is prefixed with the chart
name so a parent chart's helpers never collide with these.
*/}}

{{- define "starcast-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* release-chart, or the release name alone when it already contains the chart name. */}}
{{- define "starcast-operator.fullname" -}}
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

{{- define "starcast-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The standard labels of every object. */}}
{{- define "starcast-operator.labels" -}}
helm.sh/chart: {{ include "starcast-operator.chart" . }}
{{ include "starcast-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: starcast
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "starcast-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "starcast-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}


{{- define "starcast-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "starcast-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The namespaces watched when not cluster-wide, as JSON: the values', or the release's. */}}
{{- define "starcast-operator.namespaces" -}}
{{- if .Values.watch.clusterWide }}
{{- list | toJson }}
{{- else }}
{{- default (list .Release.Namespace) .Values.watch.namespaces | uniq | toJson }}
{{- end }}
{{- end }}

{{- define "starcast-operator.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.peering.enabled) }}
{{- fail "replicaCount > 1 needs peering.enabled=true: without peering every replica would act on every object" }}
{{- end }}
{{- if and .Values.watch.clusterWide .Values.watch.namespaces }}
{{- fail "watch.clusterWide is true and watch.namespaces is set: choose one (clusterWide watches every namespace)" }}
{{- end }}
{{- end }}

{{/*
The rules the operator needs in each namespace it watches (a Role there, or the ClusterRole
when cluster-wide). The only delete is of the canary Deployment a ModelRelease owns.
*/}}
{{- define "starcast-operator.namespacedRules" -}}
# TrainingRun (starcast/operator/rbac.py's NAMESPACED_RULES; a test keeps the two in step).
- apiGroups: [starcast.io]
  resources: [trainingruns, modelreleases]
  verbs: [get, list, watch, patch]
- apiGroups: [starcast.io]
  resources: [trainingruns/status, modelreleases/status]
  verbs: [get, patch, update]
# blockOwnerDeletion on the children's owner references (OwnerReferencesPermissionEnforcement).
- apiGroups: [starcast.io]
  resources: [trainingruns/finalizers, modelreleases/finalizers]
  verbs: [update]
# One RayJob per TrainingRun; KubeRay runs it, the garbage collector deletes it.
- apiGroups: [ray.io]
  resources: [rayjobs]
  verbs: [get, list, watch, create]
# The storage Secret a TrainingRun names: read by name, never listed.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
# ModelRelease: the serving chart's worker Deployment (model fields only, by server-side apply)
# and the canary Deployment it owns; rollout progress from ReplicaSets and pods.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [replicasets]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
# A TrainingRun's autoRelease creates its ModelRelease.
- apiGroups: [starcast.io]
  resources: [modelreleases]
  verbs: [create]
{{- if and .Values.peering.enabled (not .Values.watch.clusterWide) }}
- apiGroups: [kopf.dev]
  resources: [kopfpeerings]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end }}
