{{/* Names and labels shared by every object of the chart. */}}

{{- define "consular.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "consular.fullname" -}}
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

{{/* Labels of one component: include "consular.labels" (list . "api") */}}
{{- define "consular.labels" -}}
{{- $ := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $.Chart.Name $.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
{{ include "consular.selectorLabels" . }}
{{- end }}

{{- define "consular.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "consular.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* image reference of "api" or "worker" */}}
{{- define "consular.image" -}}
{{- $ := index . 0 -}}
{{- $img := index $.Values.image (index . 1) -}}
{{- printf "%s:%s" $img.repository (default $.Chart.AppVersion $img.tag) }}
{{- end }}

{{- define "consular.secretName" -}}
{{- default (include "consular.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The secrets the app refuses to start without in production. */}}
{{- define "consular.requiredSecrets" -}}
CONSULAR_DATABASE_URL CONSULAR_MINIO_ACCESS_KEY CONSULAR_MINIO_SECRET_KEY CONSULAR_PAYLOAD_KEYS CONSULAR_RECEIPT_SIGNING_KEY CONSULAR_LINK_KEY CONSULAR_TOTP_KEY CONSULAR_STAFF_API_KEY CONSULAR_OPERATOR_TOKEN
{{- end }}

{{/* stringData of the chart-made Secret (no existingSecret): every non-empty value, the required ones checked. */}}
{{- define "consular.secretData" -}}
{{- range (include "consular.requiredSecrets" . | splitList " ") }}
{{- if not (index $.Values.secrets.values .) }}
{{- fail (printf "secrets.values.%s is required when secrets.existingSecret is empty" .) }}
{{- end }}
{{- end }}
{{- range $k, $v := .Values.secrets.values }}
{{- if $v }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The ConfigMap's data: every non-empty config value, rendered as a template. */}}
{{- define "consular.configData" -}}
{{- range $k, $v := .Values.config }}
{{- $s := tpl (toString $v) $ }}
{{- if $s }}
{{ $k }}: {{ $s | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod-level settings the API, the worker and the migrate Job share. */}}
{{- define "consular.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
automountServiceAccountToken: {{ .Values.automountServiceAccountToken }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Prometheus scrape annotations: include "consular.scrape" (list . port) */}}
{{- define "consular.scrape" -}}
{{- $ := index . 0 -}}
{{- if $.Values.metrics.scrapeAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ index . 1 | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* Scheduling settings of a component: include "consular.scheduling" .Values.api */}}
{{- define "consular.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The config as a container's env list, for the migrate Job (it runs before the ConfigMap exists). */}}
{{- define "consular.configEnv" -}}
{{- range $k, $v := .Values.config }}
{{- $s := tpl (toString $v) $ }}
{{- if $s }}
- name: {{ $k }}
  value: {{ $s | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* TLS to Temporal (temporalTLS): the files' folder in the pods. */}}
{{- define "consular.temporalTLSDir" -}}
/etc/consular/temporal-tls
{{- end }}

{{/* The API's and the worker's env entries for TLS to Temporal (CONSULAR_TEMPORAL_TLS_*). */}}
{{- define "consular.temporalTLSEnv" -}}
{{- $dir := include "consular.temporalTLSDir" . }}
{{- with .Values.temporalTLS }}
{{- if .secretName }}
{{- if .caFile }}
- name: CONSULAR_TEMPORAL_TLS_CA_FILE
  value: {{ printf "%s/%s" $dir .caFile | quote }}
{{- end }}
{{- if .certFile }}
- name: CONSULAR_TEMPORAL_TLS_CERT_FILE
  value: {{ printf "%s/%s" $dir .certFile | quote }}
{{- end }}
{{- if .keyFile }}
- name: CONSULAR_TEMPORAL_TLS_KEY_FILE
  value: {{ printf "%s/%s" $dir .keyFile | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The same for the temporal CLI of the temporal-setup Job (its TEMPORAL_TLS_* variables). */}}
{{- define "consular.temporalTLSCLIEnv" -}}
{{- $dir := include "consular.temporalTLSDir" . }}
{{- $serverName := .Values.config.CONSULAR_TEMPORAL_TLS_SERVER_NAME }}
{{- with .Values.temporalTLS }}
{{- if or .secretName $serverName }}
- name: TEMPORAL_TLS
  value: "true"
{{- end }}
{{- if $serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ $serverName | quote }}
{{- end }}
{{- if .secretName }}
{{- if .caFile }}
- name: TEMPORAL_TLS_SERVER_CA_CERT_PATH
  value: {{ printf "%s/%s" $dir .caFile | quote }}
{{- end }}
{{- if .certFile }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: {{ printf "%s/%s" $dir .certFile | quote }}
{{- end }}
{{- if .keyFile }}
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: {{ printf "%s/%s" $dir .keyFile | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The volume mount and the volume of the Temporal TLS Secret, when there is one. */}}
{{- define "consular.temporalTLSMount" -}}
{{- if .Values.temporalTLS.secretName }}
- name: temporal-tls
  mountPath: {{ include "consular.temporalTLSDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "consular.temporalTLSVolume" -}}
{{- with .Values.temporalTLS.secretName }}
- name: temporal-tls
  secret:
    secretName: {{ . }}
    defaultMode: 0440 # owner and the pod's fsGroup
{{- end }}
{{- end }}
