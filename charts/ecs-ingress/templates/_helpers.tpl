{{- define "ecs-ingress.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ecs-ingress.fullname" -}}
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

{{- define "ecs-ingress.labels" -}}
app.kubernetes.io/name: {{ include "ecs-ingress.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ecs-ingress.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ecs-ingress.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ecs-ingress.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ecs-ingress.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The alert rules, as a Prometheus rule file's `groups:`. The PrometheusRule renders them;
deploy/prometheus/ecs-ingress.rules.yaml is the same render for Prometheus without the
Operator, and deploy/prometheus/tests/ holds their `promtool test rules` cases.
*/}}
{{- define "ecs-ingress.alertGroups" -}}
groups:
  - name: ecs-ingress
    rules:
      # The threshold follows the controller's own --interval (the gauge it exports), so a
      # slower interval does not page; a controller that just started gets the same grace.
      - alert: EcsIngressNoSuccessfulPass
        expr: |
          (
            time() - ecs_ingress_last_successful_pass_timestamp_seconds
              > {{ .Values.prometheusRule.missedPasses }} * ecs_ingress_pass_interval_seconds
          )
          and on (job, instance)
          (
            time() - process_start_time_seconds
              > {{ .Values.prometheusRule.missedPasses }} * ecs_ingress_pass_interval_seconds
          )
          # A standby runs no pass (EcsIngressNoLeader covers a group without a leader).
          and on (job, instance) (ecs_ingress_leader == 1)
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: ecs-ingress has not completed a pass for {{ .Values.prometheusRule.missedPasses }} intervals
          description: Check /status (last_pass_result, problems) and the logs; a read or change fails on every pass.
      - alert: EcsIngressServicesNotPublished
        expr: sum by (job, instance, state) (ecs_ingress_services{state=~"invalid|conflict|dns-conflict|quota"}) > 0
        for: 15m
        labels:
          severity: warning
        annotations:
          summary: '{{ "{{" }} $value {{ "}}" }} ECS services are in state {{ "{{" }} $labels.state {{ "}}" }}'
          description: Their tags need fixing or a quota is reached; /status names each service and the reason.
      # Fires on the first failure: the failure counters exist at 0 from start-up, and a
      # series that is new within the window (an older controller's, or one that appeared
      # at 1 before the first scrape) counts by its value.
      - alert: EcsIngressChangesFailing
        expr: |
          sum by (job, instance, kind, action) (increase(ecs_ingress_changes_total{result="failed"}[15m])) > 0
          or
          sum by (job, instance, kind, action) (
            ecs_ingress_changes_total{result="failed"}
              unless ecs_ingress_changes_total{result="failed"} offset 15m
          ) > 0
        labels:
          severity: warning
        annotations:
          summary: 'ecs-ingress changes are failing ({{ "{{" }} $labels.kind {{ "}}" }} {{ "{{" }} $labels.action {{ "}}" }})'
          description: The logs (change failed) and /status say which change and why (permissions, quotas, in-use resources).
      - alert: EcsIngressThrottled
        expr: sum by (job, instance) (rate(ecs_ingress_aws_throttled_calls_total[10m])) > {{ .Values.prometheusRule.throttledPerSecond }}
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: AWS keeps throttling ecs-ingress
          description: Something else in the account uses the same rate buckets; lower config.rateShare or find the other caller.
      # With leader election one replica leads; none leading for a minute means nothing
      # reconciles (lease table unreachable, misconfigured, or every replica down).
      - alert: EcsIngressNoLeader
        expr: sum by (job) (ecs_ingress_leader) == 0
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: No ecs-ingress replica has led for a minute
          description: See the replicas' /readyz and logs (lease table missing, not allowed, wrong key schema, or unreachable).
      - alert: EcsIngressDriftRepaired
        expr: sum by (job, instance, kind) (increase(ecs_ingress_drift_repairs_total[1h])) > 0
        labels:
          severity: info
        annotations:
          summary: 'Someone edits resources ecs-ingress owns ({{ "{{" }} $labels.kind {{ "}}" }})'
          description: Each hand edit of an owned resource is undone on the next pass; change the service's tags instead.
      # A pool that may still grow makes room itself; one that cannot needs a person before
      # new services get `quota`.
      - alert: EcsIngressPoolNearlyFull
        expr: |
          (
            sum by (job, instance, pool, resource) (ecs_ingress_alb_capacity_used)
              / sum by (job, instance, pool, resource) (ecs_ingress_alb_capacity_max)
          ) > 0.9
          unless on (job, instance, pool) (ecs_ingress_pool_can_grow == 1)
        for: 15m
        labels:
          severity: warning
        annotations:
          summary: 'ALB pool {{ "{{" }} $labels.pool {{ "}}" }} is over 90% full ({{ "{{" }} $labels.resource {{ "}}" }}) and cannot grow'
          description: Add a --listener for the pool on another ALB, raise --pool-max-albs or the ALB quota, or remove hand-made rules.
{{- end -}}
