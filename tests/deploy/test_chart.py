"""The Helm chart, rendered like `helm template` (tests/deploy/helmrender):
every service gets its Deployment, Service, probes, ConfigMap, HPA, PDB and
NetworkPolicy; the network policies allow exactly the flows of the design;
migrations run in hook Jobs with the owner role that no Deployment gets;
missing external addresses fail the render with a clear message."""
import json
import re

import pytest
import yaml

from conftest import CHART, CI_VALUES, ROOT, render_chart

RELEASE = "prod"
NAMESPACE = "serphona"
GATEWAYS = {"auth-gateway", "tools-gateway"}


def name_of(service):
    return f"{RELEASE}-serphona-{service}"


def container(deployment):
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_names(c):
    return {e["name"] for e in c.get("env", [])}


def sp_version():
    text = (ROOT / "libs/platform/include/platform/service.h").read_text()
    return re.search(r'#define SP_VERSION "([^"]+)"', text).group(1)


def test_chart_version_is_the_services_version():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == sp_version()


def test_every_object_is_labelled_and_named(rendered):
    for d in rendered.docs:
        meta = d["metadata"]
        assert len(meta["name"]) <= 63, meta["name"]
        assert meta.get("namespace") == NAMESPACE, meta["name"]
        labels = meta["labels"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/part-of"] == "serphona"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


def test_each_service_has_deployment_service_and_probes(rendered, services, values):
    for s in services:
        svc_values = values["services"][s]
        dep = rendered.get("Deployment", name_of(s))
        pod = dep["spec"]["template"]
        selector = dep["spec"]["selector"]["matchLabels"]
        assert selector["app.kubernetes.io/component"] == s
        assert all(pod["metadata"]["labels"][k] == v for k, v in selector.items())
        c = container(dep)
        assert c["image"] == f"ghcr.io/serphona/{s}:{sp_version()}"
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports == {k: v for k, v in svc_values["ports"].items()}
        # Probes on the operations port.
        assert c["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "ops"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "ops"}
        assert c["startupProbe"]["httpGet"]["port"] == "ops"
        assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
        # Hardened: non-root, read-only root filesystem with /tmp writable.
        sec = c["securityContext"]
        assert sec["readOnlyRootFilesystem"] is True and sec["allowPrivilegeEscalation"] is False
        assert sec["capabilities"]["drop"] == ["ALL"]
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
        assert pod["spec"]["automountServiceAccountToken"] is False
        # Its environment comes from its own ConfigMap.
        assert c["envFrom"] == [{"configMapRef": {"name": name_of(s)}}]
        rendered.get("ConfigMap", name_of(s))
        # The Service exposes every port under the same names and selects the pods.
        service = rendered.get("Service", name_of(s))
        assert service["spec"]["selector"] == selector
        sports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
        assert sports == {k: (v, k) for k, v in svc_values["ports"].items()}
        # Disruption budget over the same pods.
        pdb = rendered.get("PodDisruptionBudget", name_of(s))
        assert pdb["spec"]["selector"]["matchLabels"] == selector


def test_ports_are_the_binaries_defaults(values, help_vars, services):
    for s in services:
        ports = values["services"][s]["ports"]
        h = help_vars[s]
        assert ports["ops"] == int(h["SERPHONA_OPS_PORT"]["default"])
        if "SERPHONA_RPC_PORT" in h:
            assert ports.get("rpc") == int(h["SERPHONA_RPC_PORT"]["default"])
        else:
            assert "rpc" not in ports
        if "SERPHONA_HTTP_PORT" in h:
            assert ports.get("http") == int(h["SERPHONA_HTTP_PORT"]["default"])
        else:
            assert "http" not in ports


def test_hpa_and_replicas(rendered, services, values):
    """billing has its HPA disabled in the CI values: fixed replicas. Every
    other service is scaled by an HPA on CPU and has no fixed replica count
    that would fight it."""
    for s in services:
        dep = rendered.get("Deployment", name_of(s))
        hpas = rendered.component("HorizontalPodAutoscaler", s)
        if s == "billing":
            assert dep["spec"]["replicas"] == 3
            assert hpas == []
            continue
        assert "replicas" not in dep["spec"]
        assert len(hpas) == 1
        spec = hpas[0]["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": name_of(s)}
        cpu = [m for m in spec["metrics"] if m["type"] == "Resource"]
        assert cpu[0]["resource"]["name"] == "cpu"
        assert spec["minReplicas"] <= spec["maxReplicas"]


def test_analytics_processor_scales_on_consumer_lag(rendered):
    spec = rendered.get("HorizontalPodAutoscaler", name_of("analytics-processor"))["spec"]
    pods = [m for m in spec["metrics"] if m["type"] == "Pods"]
    assert len(pods) == 1
    metric = pods[0]["pods"]["metric"]["name"]
    assert metric == "serphona_events_consumer_lag"
    # The metric is the platform's own gauge, exported by every consumer.
    assert f'"{metric}"' in (ROOT / "libs/platform/src/events.c").read_text()
    for s in ("billing", "tenant-manager", "auth-gateway"):
        for h in rendered.component("HorizontalPodAutoscaler", s):
            assert all(m["type"] == "Resource" for m in h["spec"]["metrics"])


def test_termination_grace_covers_the_drain(rendered, services, values):
    grace_ms = int(values["config"]["SERPHONA_SHUTDOWN_GRACE_MS"])
    for s in services:
        pod = rendered.get("Deployment", name_of(s))["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] >= grace_ms / 1000 + values["preStopSleepSeconds"]
        assert container(rendered.get("Deployment", name_of(s)))["lifecycle"]["preStop"]


def test_config_change_rolls_pods(renderer, rendered, services):
    other = render_chart(renderer, CI_VALUES, extra_values={"config": {"SERPHONA_LOG_LEVEL": "debug"}})
    for s in services:
        a = rendered.get("Deployment", name_of(s))["spec"]["template"]["metadata"]["annotations"]
        b = other.get("Deployment", name_of(s))["spec"]["template"]["metadata"]["annotations"]
        assert a["checksum/config"] != b["checksum/config"]
        assert other.get("ConfigMap", name_of(s))["data"]["SERPHONA_LOG_LEVEL"] == "debug"


# ---- network policies ------------------------------------------------------------

def design_flows(services, values):
    """(client, server, port name) pairs DESIGN.md asks for: the gateway calls
    every back service; tools-gateway and agent-orchestrator call each other;
    any service (itself included) calls tenant-manager and billing."""
    rpc_servers = [s for s in services if "rpc" in values["services"][s]["ports"]]
    flows = set()
    for server in rpc_servers:
        flows.add(("auth-gateway", server))
        if server in ("tenant-manager", "billing"):
            flows.update((client, server) for client in services)
    flows.add(("tools-gateway", "agent-orchestrator"))
    flows.add(("agent-orchestrator", "tools-gateway"))
    return flows


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def pod_labels(rendered, s):
    return rendered.get("Deployment", name_of(s))["spec"]["template"]["metadata"]["labels"]


def allowed(rendered, client_labels, client_ns_labels, server, port):
    """Whether the rendered NetworkPolicies let a pod with client_labels in a
    namespace with client_ns_labels (None = our own namespace) reach port on
    server's pods."""
    target = pod_labels(rendered, server)
    policies = [p for p in rendered.kind("NetworkPolicy") if selects(p["spec"]["podSelector"], target)]
    assert policies, f"no NetworkPolicy selects {server}"
    for p in policies:
        for rule in p["spec"].get("ingress", []):
            if "ports" in rule and port not in [x["port"] for x in rule["ports"]]:
                continue
            if "from" not in rule:
                return True
            for peer in rule["from"]:
                if "namespaceSelector" in peer:
                    if client_ns_labels is not None and selects(peer["namespaceSelector"], client_ns_labels):
                        return True
                elif "podSelector" in peer:
                    if client_ns_labels is None and client_labels is not None \
                            and selects(peer["podSelector"], client_labels):
                        return True
                else:
                    return True
    return False


def test_network_policies_allow_exactly_the_design(rendered, services, values):
    flows = design_flows(services, values)
    for server in services:
        ports = values["services"][server]["ports"]
        for client in services + ["migration-job"]:
            labels = pod_labels(rendered, client) if client in services else {
                "app.kubernetes.io/name": "other", "app.kubernetes.io/instance": "x"}
            if "rpc" in ports:
                got = allowed(rendered, labels, None, server, ports["rpc"])
                assert got == ((client, server) in flows), f"{client} -> {server} rpc: {got}"
            # Nothing inside reaches another service's operations port...
            assert not allowed(rendered, labels, None, server, ports["ops"]), f"{client} -> {server} ops"
        # ...only the monitoring namespace does.
        monitoring = {"kubernetes.io/metadata.name": "monitoring"}
        assert allowed(rendered, {}, monitoring, server, ports["ops"])
        assert not allowed(rendered, {}, {"kubernetes.io/metadata.name": "default"}, server, ports["ops"])
        # From outside (another namespace, an ingress controller, a load
        # balancer): only the gateways' public ports.
        outside = {"kubernetes.io/metadata.name": "ingress-nginx"}
        for name, port in ports.items():
            got = allowed(rendered, {"app": "ingress-nginx"}, outside, server, port)
            assert got == (name == "http" and server in GATEWAYS), f"outside -> {server}:{name}"


def test_only_gateways_are_public(rendered, services, values):
    for s in services:
        assert values["services"][s]["public"] == (s in GATEWAYS)
        assert ("http" in values["services"][s]["ports"]) == (s in GATEWAYS)
    ingresses = {i["metadata"]["labels"]["app.kubernetes.io/component"]: i
                 for i in rendered.kind("Ingress")}
    assert set(ingresses) == GATEWAYS
    for s, ing in ingresses.items():
        backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert backend == {"name": name_of(s), "port": {"name": "http"}}
    assert ingresses["auth-gateway"]["spec"]["tls"][0]["secretName"] == "api-tls"
    assert ingresses["auth-gateway"]["spec"]["ingressClassName"] == "nginx"


def test_network_policy_can_be_disabled(renderer):
    out = render_chart(renderer, CI_VALUES, extra_values={"networkPolicy": {"enabled": False}})
    assert out.kind("NetworkPolicy") == []
    assert "WARNING" in out.notes


# ---- dependencies, secrets, migrations --------------------------------------------

DEPENDENCY_VARS = {"postgres": "SERPHONA_PG_URL", "redis": "SERPHONA_REDIS_URL",
                   "clickhouse": "SERPHONA_CLICKHOUSE_URL", "kafka": "SERPHONA_KAFKA_BROKERS"}


def test_needs_match_the_binaries(values, help_vars, services):
    for s in services:
        needs = set(values["services"][s]["needs"])
        reads = {dep for dep, var in DEPENDENCY_VARS.items() if var in help_vars[s]}
        assert needs == reads, f"services.{s}.needs should be {sorted(reads)}"


def test_migrate_matches_the_binaries(values, help_vars, services):
    for s in services:
        migrates = any(v in help_vars[s] for v in ("SERPHONA_PG_MIGRATE_URL",
                                                    "SERPHONA_CLICKHOUSE_SCHEMA_DIR"))
        assert values["services"][s]["migrate"] == migrates, s
        if (ROOT / "services" / s / "migrations").is_dir():
            assert values["services"][s]["migrate"], s


def test_secrets_reach_only_who_needs_them(rendered, services, values):
    secret_keys = set(values["secrets"]["values"])
    secret = rendered.get("Secret", f"{RELEASE}-serphona")
    assert set(secret["stringData"]) == secret_keys
    expected = {"postgres": {"SERPHONA_PG_URL"}, "redis": {"SERPHONA_REDIS_URL"},
                "clickhouse": {"SERPHONA_CLICKHOUSE_PASSWORD"}, "kafka": set()}
    ci = yaml.safe_load(CI_VALUES.read_text())
    for s in services:
        c = container(rendered.get("Deployment", name_of(s)))
        want = set().union(*(expected[n] for n in values["services"][s]["needs"]))
        want |= set(values["services"][s]["secretEnv"])
        assert env_names(c) == want, s
        for e in c["env"]:
            assert e["valueFrom"]["secretKeyRef"] == {"name": f"{RELEASE}-serphona", "key": e["name"]}
        # No secret in a ConfigMap, and the owner role in no Deployment.
        data = rendered.get("ConfigMap", name_of(s))["data"]
        assert not secret_keys & set(data)
        for v in ci["secrets"]["values"].values():
            assert v not in data.values()
        assert "SERPHONA_PG_MIGRATE_URL" not in env_names(c)


def test_migration_jobs(rendered, services, values):
    migrating = sorted(s for s in services if values["services"][s]["migrate"])
    assert migrating, "some service has migrations"
    jobs = {j["metadata"]["labels"]["app.kubernetes.io/component"]: j for j in rendered.kind("Job")}
    assert sorted(jobs) == [f"{s}-migrate" for s in migrating]
    hook_secret = rendered.get("Secret", f"{RELEASE}-serphona-migrations")
    assert hook_secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0
    # Only what the migrations need: the dependencies' keys, not the
    # services' own secrets (signing keys, the operator's password).
    assert set(hook_secret["stringData"]) == {"SERPHONA_PG_URL", "SERPHONA_PG_MIGRATE_URL",
                                              "SERPHONA_CLICKHOUSE_PASSWORD"} | {
        "SERPHONA_REDIS_URL" for s in migrating if "redis" in values["services"][s]["needs"]}
    for s in migrating:
        job = jobs[f"{s}-migrate"]
        ann = job["metadata"]["annotations"]
        assert ann["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "before-hook-creation" in ann["helm.sh/hook-delete-policy"]
        pod = job["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        c = pod["containers"][0]
        assert c["image"] == container(rendered.get("Deployment", name_of(s)))["image"]
        assert c["args"] == ["--migrate-only"]
        env = {e["name"]: e for e in c["env"]}
        # The whole plain environment inline (the ConfigMap does not exist
        # yet at pre-install), and both database roles from the hook Secret.
        cm = rendered.get("ConfigMap", name_of(s))["data"]
        for k, v in cm.items():
            assert env[k]["value"] == v
        db_keys = {"SERPHONA_PG_MIGRATE_URL", "SERPHONA_PG_URL"}
        if "postgres" in values["services"][s]["needs"]:
            for k in db_keys:
                assert env[k]["valueFrom"]["secretKeyRef"]["name"] == f"{RELEASE}-serphona-migrations"
        else:
            assert not db_keys & set(env), f"{s} migrates no PostgreSQL schema"
        assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_existing_secret(renderer, services):
    out = render_chart(renderer, CI_VALUES, extra_values={"secrets": {"existingSecret": "vault-synced"}})
    assert out.kind("Secret") == []
    for d in out.kind("Deployment") + out.kind("Job"):
        for e in d["spec"]["template"]["spec"]["containers"][0].get("env", []):
            if "valueFrom" in e:
                assert e["valueFrom"]["secretKeyRef"]["name"] == "vault-synced"


@pytest.mark.parametrize("override,message", [
    ({"config": {"SERPHONA_KAFKA_BROKERS": ""}}, "SERPHONA_KAFKA_BROKERS"),
    ({"config": {"SERPHONA_CLICKHOUSE_URL": ""}}, "SERPHONA_CLICKHOUSE_URL"),
    ({"secrets": {"values": {"SERPHONA_PG_URL": ""}}}, "SERPHONA_PG_URL"),
    ({"secrets": {"values": {"SERPHONA_REDIS_URL": ""}}}, "SERPHONA_REDIS_URL"),
    ({"secrets": {"values": {"SERPHONA_PG_MIGRATE_URL": ""}}}, "SERPHONA_PG_MIGRATE_URL"),
    ({"secrets": {"create": False}}, "existingSecret"),
    ({"services": {"billing": {"rpcFrom": ["billing-typo"]}}}, "billing-typo"),
])
def test_missing_settings_fail_clearly(renderer, override, message):
    rc, err = render_chart(renderer, CI_VALUES, extra_values=override, check=False)
    assert rc != 0 and message in err, err


def test_default_values_ask_for_external_addresses(renderer):
    """values.yaml alone bundles no database: rendering asks for Kafka first."""
    rc, err = render_chart(renderer, check=False)
    assert rc != 0 and "SERPHONA_KAFKA_BROKERS" in err


def test_without_migrations_nothing_needs_the_owner_role(renderer):
    out = render_chart(renderer, CI_VALUES, extra_values={
        "migrations": {"enabled": False}, "secrets": {"values": {"SERPHONA_PG_MIGRATE_URL": ""}}})
    assert out.kind("Job") == []


def test_disabling_a_service(renderer, services):
    out = render_chart(renderer, CI_VALUES, extra_values={"services": {"analytics-query": {"enabled": False}}})
    assert not [d for d in out.docs
                if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "analytics-query"]
    assert len(out.kind("Deployment")) == len(services) - 1


# ---- observability objects ----------------------------------------------------------

def test_service_monitor_scrapes_every_ops_port(rendered, services):
    (sm,) = rendered.kind("ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["jobLabel"] == "app.kubernetes.io/component"
    assert sm["spec"]["endpoints"][0]["port"] == "ops"
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"
    selected = [s for s in rendered.kind("Service")
                if selects(sm["spec"]["selector"], s["metadata"]["labels"])]
    assert sorted(s["metadata"]["labels"]["app.kubernetes.io/component"] for s in selected) == services
    for s in selected:
        assert "ops" in [p["name"] for p in s["spec"]["ports"]]


def test_prometheus_rule_is_the_rule_file(rendered):
    (rule,) = rendered.kind("PrometheusRule")
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())


def test_dashboard_configmap(rendered):
    cm = rendered.get("ConfigMap", f"{RELEASE}-serphona-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["serphona.json"]) == \
        json.loads((CHART / "files" / "grafana-dashboard.json").read_text())


def test_optional_objects_are_off_by_default(renderer):
    out = render_chart(renderer, CI_VALUES, extra_values={
        "serviceMonitor": {"enabled": False}, "prometheusRule": {"enabled": False},
        "grafanaDashboard": {"enabled": False}})
    assert not out.kind("ServiceMonitor") and not out.kind("PrometheusRule")
    assert [c["metadata"]["name"] for c in out.kind("ConfigMap") if "dashboard" in c["metadata"]["name"]] == []


def test_notes(rendered, services):
    for s in services:
        assert name_of(s) in rendered.notes
    assert "https://api.serphona.example/" in rendered.notes
    assert "http://partners.serphona.example/" in rendered.notes
