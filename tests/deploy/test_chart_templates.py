"""Static checks of the Helm chart's templates (no helm here, and the project
uses no Go, so the chart is not rendered): every service of services/ is in
the one services map every per-service template ranges over, and the
Deployment template gives each container the three probes on the ops port."""
from pathlib import Path

from conftest import CHART, ROOT

TEMPLATES = Path(CHART) / "templates"
PER_SERVICE = ["deployment.yaml", "service.yaml", "configmap.yaml", "hpa.yaml", "pdb.yaml",
               "networkpolicy.yaml"]


def test_every_service_is_in_the_services_map(values):
    on_disk = {p.name for p in (ROOT / "services").iterdir() if p.is_dir()}
    assert on_disk == set(values["services"])


def test_per_service_templates_range_over_the_services_map():
    for name in PER_SERVICE:
        text = (TEMPLATES / name).read_text()
        assert "range $name, $svc := .Values.services" in text, name


def test_deployment_has_probes_on_the_ops_port(values):
    text = (TEMPLATES / "deployment.yaml").read_text()
    for probe in ("startupProbe:", "livenessProbe:", "readinessProbe:"):
        assert probe in text
    paths = {values["probes"][k]["path"] for k in ("startup", "liveness", "readiness")
             if "path" in values["probes"].get(k, {})}
    assert paths <= {"/health/live", "/health/ready"}, paths
