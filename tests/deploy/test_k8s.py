"""deploy/k8s: every manifest validated offline against the Kubernetes schemas
(kubernetes-validate bundles them), ServiceMonitors against a schema written here for the
fields we use (kubernetes-validate has no CRD schemas), and the manifests checked against
each other: selectors, port names, NetworkPolicies, and the nginx config the pod runs.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Final

import jsonschema
import kubernetes_validate
import pytest
import yaml

from caldav_gateway.settings import GatewaySettings
from edgeward.config import load_file
from printer_sync.config import load_config
from tests.support.net import free_port
from tests.support.render import DEPLOY, NGINX_DIR, leftover_production_paths
from tests.support.tools import require_tool

K8S: Final = DEPLOY / "k8s"
KUBERNETES_VERSION: Final = "1.30.0"  # the oldest version the manifests must fit
MANIFESTS: Final = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")

# The subset of the Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1) these
# manifests use, with its real field names and types; unknown fields are refused so a
# typo cannot pass.
SERVICE_MONITOR: Final = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "required": ["name", "namespace"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {
                    "type": "object",
                    "required": ["matchLabels"],
                    "additionalProperties": False,
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                            "scheme": {"enum": ["http", "https"]},
                        },
                    },
                },
            },
        },
    },
}


def docs() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((f"{path.name}: {doc['kind']}/{doc['metadata']['name']}", doc))
    return out


DOCS: Final = docs()


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in DOCS if d["kind"] == kind]


def by_name(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in of_kind(kind) if d["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize(("where", "doc"), DOCS, ids=[w for w, _ in DOCS])
def test_manifest_validates(where: str, doc: dict[str, Any]) -> None:
    if doc["kind"] == "ServiceMonitor":
        jsonschema.validate(doc, SERVICE_MONITOR)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(
    ("doc", "schema"),
    [
        (
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"typo": 1}},
            "k8s",
        ),
        (
            {
                **by_name("ServiceMonitor", "edgeward-app"),
                "spec": {"selector": {}, "endpoints": []},
            },
            "sm",
        ),
    ],
    ids=["service-with-typo", "servicemonitor-without-endpoints"],
)
def test_validation_refuses_broken_manifests(doc: dict[str, Any], schema: str) -> None:
    if schema == "sm":
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, SERVICE_MONITOR)
    else:
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in MANIFESTS]
    assert {d["metadata"].get("namespace", "edgeward") for _, d in DOCS} == {"edgeward"}


def _pod_ports(deployment: dict[str, Any]) -> dict[str, int]:
    return {
        p["name"]: p["containerPort"]
        for c in deployment["spec"]["template"]["spec"]["containers"]
        for p in c.get("ports", [])
    }


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("service", of_kind("Service"), ids=lambda s: s["metadata"]["name"])
def test_service_selects_a_deployment_with_its_ports(service: dict[str, Any]) -> None:
    selected = [
        d
        for d in of_kind("Deployment")
        if _selects(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
    ]
    assert len(selected) == 1
    ports = _pod_ports(selected[0])
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in ports


@pytest.mark.parametrize("monitor", of_kind("ServiceMonitor"), ids=lambda s: s["metadata"]["name"])
def test_servicemonitor_finds_a_service_and_its_ports(monitor: dict[str, Any]) -> None:
    services = [
        s
        for s in of_kind("Service")
        if _selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"].get("labels", {}))
    ]
    assert len(services) == 1
    names = {p["name"] for p in services[0]["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in names
        assert endpoint["port"].endswith("metrics")


@pytest.mark.parametrize("deployment", of_kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_pods_run_restricted(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for c in pod["containers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert "limits" in c["resources"]


@pytest.mark.parametrize("name", ["edgeward-caldav-gateway", "edgeward-printer-sync"])
def test_single_writers_never_overlap(name: str) -> None:
    d = by_name("Deployment", name)
    assert d["spec"]["replicas"] == 1
    assert d["spec"]["strategy"]["type"] == "Recreate"


def test_caldav_gateway_has_its_own_load_balancer_address() -> None:
    lb = [s for s in of_kind("Service") if s["spec"].get("type") == "LoadBalancer"]
    assert [s["metadata"]["name"] for s in lb] == ["edgeward-caldav"]
    spec = lb[0]["spec"]
    assert spec["externalTrafficPolicy"] == "Local"  # client addresses for the throttle
    assert [p["targetPort"] for p in spec["ports"]] == ["caldav"]  # nothing else on it
    assert lb[0]["metadata"]["annotations"]


def test_app_pod_has_the_dpi_watch_sidecar_fed_by_nginx() -> None:
    pod = by_name("Deployment", "edgeward-app")["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {"nginx", "app", "dpi-watch"}
    args = containers["dpi-watch"]["args"]
    assert args[:3] == ["syslog", "--listen", "127.0.0.1:5140"]
    nginx_conf = by_name("ConfigMap", "edgeward-nginx")["data"]["default.conf"]
    assert "syslog:server=127.0.0.1:5140" in nginx_conf
    env = {e["name"]: e["value"] for e in containers["app"]["env"]}
    assert "--workers" in containers["app"]["args"]
    assert env["PROMETHEUS_MULTIPROC_DIR"] in {
        m["mountPath"] for m in containers["app"]["volumeMounts"]
    }


def _admitted(pod_labels: dict[str, str], port: int) -> list[dict[str, Any]]:
    """The ingress rules of the NetworkPolicies that admit traffic to ``port``."""
    rules = []
    for policy in of_kind("NetworkPolicy"):
        if not _selects(policy["spec"]["podSelector"].get("matchLabels", {}), pod_labels):
            continue
        for rule in policy["spec"].get("ingress", []):
            if any(p["port"] == port for p in rule.get("ports", [])):
                rules.append(rule)
    return rules


@pytest.mark.parametrize("deployment", of_kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_network_policies_admit_each_port_and_guard_metrics(deployment: dict[str, Any]) -> None:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for name, port in _pod_ports(deployment).items():
        rules = _admitted(labels, port)
        assert rules, f"{name} ({port}) is unreachable behind default-deny"
        if name.endswith("metrics"):
            for rule in rules:
                (peer,) = rule["from"]
                assert peer["namespaceSelector"]["matchLabels"] == {
                    "kubernetes.io/metadata.name": "monitoring"
                }
    default = by_name("NetworkPolicy", "default-deny")["spec"]
    assert default["podSelector"] == {} and set(default["policyTypes"]) == {"Ingress", "Egress"}


@pytest.mark.parametrize("key", ["edgeward-log-formats.conf", "realip.conf"])
def test_pod_nginx_uses_the_shipped_files_verbatim(key: str) -> None:
    data = by_name("ConfigMap", "edgeward-nginx")["data"]
    assert data[key] == (NGINX_DIR / key).read_text()


def test_pod_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    binary = require_tool("nginx")
    data = by_name("ConfigMap", "edgeward-nginx")["data"]
    conf_dir = tmp_path / "edgeward"
    conf_dir.mkdir()
    (tmp_path / "logs").mkdir()
    for key, text in data.items():
        text = text.replace("/etc/nginx/edgeward/", f"{conf_dir}/")
        text = text.replace("listen 8080;", f"listen 127.0.0.1:{free_port()};")
        (conf_dir / key).write_text(text)
        assert leftover_production_paths(text) == []
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"{user}pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\n"
        "events { worker_connections 64; }\n"
        f"http {{ include {conf_dir}/default.conf; }}\n"
    )
    result = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def _localise(text: str, tmp: Path) -> str:
    for top in ("/etc/", "/var/", "/run/"):
        text = text.replace(f'"{top}', f'"{tmp}{top}')
    return text


def test_gateway_config_in_the_configmap_loads(tmp_path: Path) -> None:
    conf = tmp_path / "gateway.toml"
    conf.write_text(
        _localise(by_name("ConfigMap", "edgeward-caldav")["data"]["gateway.toml"], tmp_path)
    )
    settings = load_file(GatewaySettings, conf)
    assert settings.listen == "0.0.0.0:8443"


def test_printer_config_in_the_configmap_loads(tmp_path: Path) -> None:
    text = by_name("ConfigMap", "edgeward-printer-sync")["data"]["printers.toml"]
    conf = tmp_path / "printers.toml"
    conf.write_text(_localise(text, tmp_path))
    password = tmp_path / "run" / "secrets" / "edgeward-printer" / "office"
    password.parent.mkdir(parents=True)
    password.write_text("k8s-test-password\n")
    config = load_config(conf)
    assert [p.name for p in config.printers] == ["office"]
