"""k8s/: every overlay, rendered like `kustomize build` would, validates against the Kubernetes 1.30 OpenAPI
schema (kubernetes-validate), runs non-root with a read-only root filesystem and no privilege escalation, and the
pipeline's RBAC grants exactly what the PyTorchJob launcher needs.

No kustomize binary is installed: :func:`build` implements the subset our kustomizations use (resources,
namespace, commonLabels, strategic-merge patches on named resources, containers merged by name).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ["dev", "prod"]
CLUSTER_SCOPED = {"Namespace"}
ALLOWED_KEYS = {"apiVersion", "kind", "namespace", "commonLabels", "resources", "patches"}


def _merge(base, patch):
    """Strategic merge: dicts recursively, lists of named items by name, other lists replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in patch)
    ):
        out = list(base)
        for item in patch:
            idx = next((i for i, b in enumerate(out) if b.get("name") == item["name"]), None)
            if idx is None:
                out.append(item)
            else:
                out[idx] = _merge(out[idx], item)
        return out
    return patch


def build(directory: Path) -> list[dict]:
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(kust) <= ALLOWED_KEYS, f"{directory}: renderer supports only {ALLOWED_KEYS}"
    objs: list[dict] = []
    for res in kust.get("resources", []):
        path = directory / res
        objs += build(path) if path.is_dir() else [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in kust.get("patches", []):
        doc = yaml.safe_load((directory / patch["path"]).read_text())
        idx = [
            i
            for i, o in enumerate(objs)
            if (o["kind"], o["metadata"]["name"]) == (doc["kind"], doc["metadata"]["name"])
        ]
        assert len(idx) == 1, f"patch {patch['path']} matches {len(idx)} objects"
        objs[idx[0]] = _merge(objs[idx[0]], doc)
    objs = copy.deepcopy(objs)
    ns = kust.get("namespace")
    labels = kust.get("commonLabels", {})
    for o in objs:
        meta = o["metadata"]
        if ns:
            if o["kind"] == "Namespace":
                meta["name"] = ns
            elif o["kind"] not in CLUSTER_SCOPED:
                meta["namespace"] = ns
            for subject in o.get("subjects", []):
                if subject["kind"] == "ServiceAccount":
                    subject["namespace"] = ns
        meta.setdefault("labels", {}).update(labels)
        if o["kind"] == "Deployment":
            o["spec"]["selector"]["matchLabels"].update(labels)
            o["spec"]["template"]["metadata"].setdefault("labels", {}).update(labels)
        if o["kind"] == "Service":
            o["spec"]["selector"].update(labels)
    return objs


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request):
    return request.param, build(K8S / "overlays" / request.param)


def test_every_object_validates_against_the_kubernetes_schema(rendered):
    import kubernetes_validate

    _, objs = rendered
    kinds = {o["kind"] for o in objs}
    assert {"Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "Deployment",
            "Service", "NetworkPolicy"} <= kinds  # fmt: skip
    for o in objs:
        kubernetes_validate.validate(o, "1.30", strict=True)


def test_namespace_enforces_restricted_pod_security(rendered):
    env, objs = rendered
    ns = next(o for o in objs if o["kind"] == "Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(
        o["metadata"].get("namespace") == ns["metadata"]["name"] for o in objs if o["kind"] != "Namespace"
    )


def _pod_specs(objs):
    yield from (o["spec"]["template"]["spec"] for o in objs if o["kind"] == "Deployment")
    job = yaml.safe_load((K8S / "pytorchjob" / "pytorchjob.yaml").read_text())
    yield from (r["template"]["spec"] for r in job["spec"]["pytorchReplicaSpecs"].values())


def test_containers_are_non_root_read_only_and_unprivileged(rendered):
    _, objs = rendered
    for pod in _pod_specs(objs):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"]["drop"] == ["ALL"]


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
    binding = next(o for o in objs if o["kind"] == "RoleBinding")
    assert binding["subjects"][0]["name"] == "climbflow-pipeline"


def test_secret_templates_carry_no_values(rendered):
    _, objs = rendered
    for s in (o for o in objs if o["kind"] == "Secret"):
        assert "data" not in s and all(v == "" for v in s.get("stringData", {}).values()), s["metadata"][
            "name"
        ]


def test_overlays_differ_as_intended():
    dev = {(o["kind"], o["metadata"]["name"]): o for o in build(K8S / "overlays" / "dev")}
    prod = {(o["kind"], o["metadata"]["name"]): o for o in build(K8S / "overlays" / "prod")}
    assert prod[("Deployment", "mlflow")]["spec"]["replicas"] == 2
    c = prod[("Deployment", "mlflow")]["spec"]["template"]["spec"]["containers"][0]
    assert c["resources"]["limits"]["memory"] == "4Gi" and c["securityContext"]["readOnlyRootFilesystem"]
    assert ("Namespace", "climbflow-dev") in dev
    assert prod[("ConfigMap", "climbflow-config")]["data"]["MLFLOW_TRACKING_URI"].startswith("http://mlflow")


def test_pipeline_defaults_match_the_manifests():
    from climbflow.config import load

    cluster = load(REPO / "params.yaml").cluster
    base = {(o["kind"], o["metadata"]["name"]) for o in build(K8S / "base")}
    assert {
        ("Secret", cluster.s3_secret),
        ("Secret", cluster.mlflow_secret),
        ("ConfigMap", cluster.config_map),
    } <= base
    assert ("ServiceAccount", cluster.pytorchjob.service_account) in base
