{{/*
Shared helpers. Per-service helpers take a dict:
  root  the top-level context ($)
  name  the service name (a key of .Values.services)
  svc   its values (index .Values.services name)
*/}}

{{- define "serphona.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-serphona, or the release name when it already says serphona. */}}
{{- define "serphona.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of every object of one service: <fullname>-<service>. */}}
{{- define "serphona.component" -}}
{{- printf "%s-%s" (include "serphona.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "serphona.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of objects that belong to the release as a whole. */}}
{{- define "serphona.commonLabels" -}}
helm.sh/chart: {{ include "serphona.chart" . }}
app.kubernetes.io/name: {{ include "serphona.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: serphona
{{- end -}}

{{/* Selector labels of one service's pods (dict root name). */}}
{{- define "serphona.selectorLabels" -}}
app.kubernetes.io/name: {{ include "serphona.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* Labels of one service's objects (dict root name). */}}
{{- define "serphona.labels" -}}
helm.sh/chart: {{ include "serphona.chart" .root }}
{{ include "serphona.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: serphona
{{- end -}}

{{- define "serphona.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .name (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}

{{- define "serphona.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "serphona.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "serphona.secretName" -}}
{{- default (include "serphona.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/*
The plain environment of one service (dict root name svc), as YAML: the
shared `config`, then the service's own `config`, then what the chart derives
from the services map — its ports and every peer's RPC endpoint (the Service
DNS name of that peer). Rendered into the service's ConfigMap and, inline,
into its migration Job (which runs before the ConfigMap exists).
*/}}
{{- define "serphona.env" -}}
{{- $root := .root -}}
{{- $env := dict -}}
{{- range $k, $v := $root.Values.config }}
{{- $_ := set $env $k (toString $v) }}
{{- end }}
{{- range $k, $v := .svc.config }}
{{- $_ := set $env $k (toString $v) }}
{{- end }}
{{- $_ := set $env "SERPHONA_OPS_PORT" (printf "%d" (int .svc.ports.ops)) }}
{{- if .svc.ports.rpc }}
{{- $_ := set $env "SERPHONA_RPC_PORT" (printf "%d" (int .svc.ports.rpc)) }}
{{- end }}
{{- if .svc.ports.http }}
{{- $_ := set $env "SERPHONA_HTTP_PORT" (printf "%d" (int .svc.ports.http)) }}
{{- end }}
{{- range $peer, $p := $root.Values.services }}
{{- if $p.ports.rpc }}
{{- $var := printf "SERPHONA_%s_RPC" ($peer | upper | replace "-" "_") }}
{{- $host := include "serphona.component" (dict "root" $root "name" $peer) }}
{{- $_ := set $env $var (printf "tcp://%s:%d" $host (int $p.ports.rpc)) }}
{{- end }}
{{- end }}
{{- toYaml $env }}
{{- end -}}

{{/* The Secret keys of one service's dependencies (dict root name svc), as
a YAML list: what its migration Job gets too. */}}
{{- define "serphona.dependencySecretKeys" -}}
{{- $keys := list -}}
{{- if has "postgres" .svc.needs }}{{ $keys = append $keys "SERPHONA_PG_URL" }}{{ end }}
{{- if has "redis" .svc.needs }}{{ $keys = append $keys "SERPHONA_REDIS_URL" }}{{ end }}
{{- if has "clickhouse" .svc.needs }}{{ $keys = append $keys "SERPHONA_CLICKHOUSE_PASSWORD" }}{{ end }}
{{- toYaml $keys }}
{{- end -}}

{{/* The Secret keys one service's pods get (dict root name svc), as a YAML
list: its dependencies' and its own secretEnv. */}}
{{- define "serphona.secretKeys" -}}
{{- $keys := fromYamlArray (include "serphona.dependencySecretKeys" .) -}}
{{- range .svc.secretEnv }}{{ $keys = append $keys . }}{{ end }}
{{- toYaml (uniq $keys) }}
{{- end -}}

{{/* env entries taking each of keys (a list) from the Secret secretName. */}}
{{- define "serphona.secretEnv" -}}
{{- $secret := .secretName -}}
{{- range .keys }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
{{- end }}
{{- end -}}

{{/* A pod's liveness/readiness/startup probe on the operations port. */}}
{{- define "serphona.probe" -}}
httpGet:
  path: {{ .probe.path }}
  port: ops
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end -}}
