{{/*
Checks that fail the render with a clear message instead of producing pods
that cannot start. Called from configmap.yaml (rendered on every install).
*/}}
{{- define "serphona.validate" -}}
{{- $needs := dict -}}
{{- $migrate := false -}}
{{- range $name, $svc := .Values.services }}
{{- if $svc.enabled }}
{{- range $svc.needs }}{{ $_ := set $needs . true }}{{ end }}
{{- if and $svc.migrate (has "postgres" $svc.needs) }}{{ $migrate = true }}{{ end }}
{{- range $svc.rpcFrom }}
{{- if and (ne . "*") (not (hasKey $.Values.services .)) }}
{{- fail (printf "services.%s.rpcFrom names %q, which is not a service" $name .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (hasKey $needs "kafka") (not .Values.config.SERPHONA_KAFKA_BROKERS) }}
{{- fail "config.SERPHONA_KAFKA_BROKERS must name your Kafka bootstrap servers (host:port,...)" }}
{{- end }}
{{- if and (hasKey $needs "clickhouse") (not .Values.config.SERPHONA_CLICKHOUSE_URL) }}
{{- fail "config.SERPHONA_CLICKHOUSE_URL must point at your ClickHouse HTTP interface" }}
{{- end }}
{{- if not .Values.secrets.existingSecret }}
{{- if not .Values.secrets.create }}
{{- fail "secrets.create is false: set secrets.existingSecret" }}
{{- end }}
{{- if and (hasKey $needs "postgres") (not .Values.secrets.values.SERPHONA_PG_URL) }}
{{- fail "secrets.values.SERPHONA_PG_URL (the app role's PostgreSQL URI) is required, or use secrets.existingSecret" }}
{{- end }}
{{- if and (hasKey $needs "redis") (not .Values.secrets.values.SERPHONA_REDIS_URL) }}
{{- fail "secrets.values.SERPHONA_REDIS_URL is required, or use secrets.existingSecret" }}
{{- end }}
{{- $gw := index .Values.services "auth-gateway" }}
{{- if and $gw.enabled (not .Values.secrets.values.SERPHONA_JWT_PRIVATE_KEYS) (not $gw.config.SERPHONA_JWT_KEYS_DIR) }}
{{- fail "auth-gateway needs its access-token keys: secrets.values.SERPHONA_JWT_PRIVATE_KEYS (PEM), or services.auth-gateway.config.SERPHONA_JWT_KEYS_DIR with the key files mounted (extraVolumes), or secrets.existingSecret" }}
{{- end }}
{{- if and $migrate .Values.migrations.enabled (not .Values.secrets.values.SERPHONA_PG_MIGRATE_URL) }}
{{- fail "secrets.values.SERPHONA_PG_MIGRATE_URL (the owner role's PostgreSQL URI) is required by the migration Jobs, or use secrets.existingSecret, or migrations.enabled=false" }}
{{- end }}
{{- end }}
{{- end -}}
