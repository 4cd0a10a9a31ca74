"""Credentials only from Secrets: no credential is baked into the image, and every credential-looking env var
of a rendered pod (k8s overlays, the PyTorchJob) comes from a Secret, never a literal value; pods that do not
call the Kubernetes API do not mount a service-account token. (Non-root, restricted pods and RBAC:
tests/docker and tests/k8s.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from climbflow.cluster.pytorchjob import TEMPLATE
from tests.k8s.test_manifests import OVERLAYS, build

REPO = Path(__file__).resolve().parents[2]
CREDENTIAL = re.compile(r"KEY|SECRET|PASSWORD|TOKEN|SALT|BACKEND_STORE_URI|USERNAME", re.I)


def _pods(objs):
    for o in objs:
        if o["kind"] == "Deployment":
            yield o["metadata"]["name"], o["spec"]["template"]["spec"]
    job = yaml.safe_load(TEMPLATE.read_text())
    for role, spec in job["spec"]["pytorchReplicaSpecs"].items():
        yield f"pytorchjob/{role}", spec["template"]["spec"]


def _literal_credentials(pod: dict) -> list[str]:
    bad = []
    for c in pod.get("containers", []) + pod.get("initContainers", []):
        for env in c.get("env", []):
            if CREDENTIAL.search(env["name"]) and "value" in env:
                bad.append(f"{c['name']}: {env['name']} has a literal value")
            ref = env.get("valueFrom", {})
            if CREDENTIAL.search(env["name"]) and "configMapKeyRef" in ref:
                bad.append(f"{c['name']}: {env['name']} comes from a ConfigMap, not a Secret")
            if "value" in env and re.search(r"://[^/@\s]+:[^/@\s]+@", str(env["value"])):
                bad.append(f"{c['name']}: {env['name']} is a URL with inline credentials")
    return bad


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_credentials_come_from_secrets(overlay):
    for name, pod in _pods(build(REPO / "k8s" / "overlays" / overlay)):
        assert not _literal_credentials(pod), (name, _literal_credentials(pod))


def test_the_check_catches_a_literal_credential():
    pod = {"containers": [{"name": "c", "env": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "x"}]}]}
    assert _literal_credentials(pod) == ["c: AWS_SECRET_ACCESS_KEY has a literal value"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_configmaps_carry_no_credentials(overlay):
    for o in build(REPO / "k8s" / "overlays" / overlay):
        if o["kind"] == "ConfigMap":
            for key, value in (o.get("data") or {}).items():
                assert not CREDENTIAL.search(key), f"{o['metadata']['name']}: {key} belongs in a Secret"
                assert not re.search(r"://[^/@\s]+@", str(value)), f"{key}: URL with inline credentials"


def test_mlflow_pod_mounts_no_service_account_token():
    objs = build(REPO / "k8s" / "base")
    mlflow = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "mlflow")
    assert mlflow["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_image_bakes_in_no_credentials():
    text = (REPO / "docker" / "Dockerfile").read_text()
    for m in re.finditer(r"^\s*(ENV|ARG)\s+(.+)$", text, re.M):
        names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", m.group(2)) or [m.group(2).split()[0]]
        assert not [n for n in names if CREDENTIAL.search(n)], m.group(0)
    copied = re.findall(r"^\s*COPY\s+(?!--from)(.+)$", text, re.M)
    sources = [s for line in copied for s in line.split()[:-1]]
    assert not [s for s in sources if s in {".", "workspace"} or ".env" in s or "secret" in s.lower()], (
        sources
    )
