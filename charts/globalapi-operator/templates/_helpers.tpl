{{/* The chart name, or nameOverride. */}}
{{- define "globalapi-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-<chart>, or fullnameOverride; the release name alone when it already holds the chart name. */}}
{{- define "globalapi-operator.fullname" -}}
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

{{- define "globalapi-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "globalapi-operator.labels" -}}
helm.sh/chart: {{ include "globalapi-operator.chart" . }}
{{ include "globalapi-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: globalapi
{{- end }}

{{/* Labels that select the operator pods. */}}
{{- define "globalapi-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "globalapi-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "globalapi-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "globalapi-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference; the tag defaults to the chart's appVersion. */}}
{{- define "globalapi-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The namespaces watched in namespaced mode, comma-separated (the form
`globalapi run --namespace` takes), or "" for every namespace.
*/}}
{{- define "globalapi-operator.watchNamespace" -}}
{{- join "," (uniq .Values.watchNamespaces) }}
{{- end }}

{{/*
The rules the operator needs on GlobalApis and Events, shared by the
ClusterRole (every namespace) and the Role (namespaced mode).
*/}}
{{- define "globalapi-operator.rules" -}}
# Watch GlobalApis; patch them to add and remove the finalizer.
- apiGroups: ["globalapi.io"]
  resources: ["globalapis"]
  verbs: ["get", "list", "watch", "patch", "update"]
# Status is written by server-side apply (a PATCH on the subresource).
- apiGroups: ["globalapi.io"]
  resources: ["globalapis/status"]
  verbs: ["get", "patch", "update"]
# Finalizer changes, for clusters that check them (OwnerReferencesPermissionEnforcement).
- apiGroups: ["globalapi.io"]
  resources: ["globalapis/finalizers"]
  verbs: ["update"]
{{- if .Values.tenancy.enabled }}
# Tenancy policies, checked again before each pass.
- apiGroups: ["globalapi.io"]
  resources: ["globalapipolicies"]
  verbs: ["get", "list", "watch"]
{{- end }}
# Events about GlobalApis (events.k8s.io/v1; core for older recorders).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
