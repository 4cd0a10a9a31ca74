"""NetworkPolicies of each overlay (real kubectl kustomize) against the pods that really run: the PyTorchJob
master and workers as the launcher renders them (climbflow.cluster.pytorchjob.render) plus the labels the
Training Operator adds, pipeline pods, and the MLflow pod. Multi-node training needs worker -> master on the
rendezvous port (and rank <-> rank for NCCL/gloo); the namespace otherwise denies ingress.
"""

from __future__ import annotations

import pytest

from climbflow.cluster.pytorchjob import distributed_params, render
from tests.k8s.render import K8S, REPO, by_kind, ingress_allowed, kustomize, namespace_labels, one

OVERLAYS = {"dev": "climbflow-dev", "prod": "climbflow"}


def _job(namespace: str) -> dict:
    from climbflow.config import load

    data = load(REPO / "params.yaml").to_dict()
    data["cluster"]["pytorchjob"].update(
        {"enabled": True, "nodes": 3, "gpus_per_node": 2, "namespace": namespace}
    )
    return render(distributed_params(data), "ecg", ["s3://b/std/ptbxl/1"])


def _pod(manifest: dict, role: str, index: int = 0) -> tuple[dict[str, str], dict[str, int]]:
    """Labels of a job pod as created by the Training Operator (template labels + the operator's own) and the
    named ports of its container."""
    template = manifest["spec"]["pytorchReplicaSpecs"][role]["template"]
    labels = dict(template["metadata"].get("labels") or {})
    labels |= {
        "training.kubeflow.org/job-name": manifest["metadata"]["name"],
        "training.kubeflow.org/operator-name": "pytorchjob-controller",
        "training.kubeflow.org/replica-type": role.lower(),
        "training.kubeflow.org/replica-index": str(index),
    }
    ports = {
        p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])
    }
    return labels, ports


@pytest.fixture(scope="module", params=list(OVERLAYS))
def overlay(request):
    objs = kustomize(K8S / "overlays" / request.param)
    ns = OVERLAYS[request.param]
    return request.param, ns, objs, by_kind(objs, "NetworkPolicy")


def test_workers_reach_the_master_and_each_other(overlay):
    env, ns, objs, policies = overlay
    job = _job(ns)
    master, master_ports = _pod(job, "Master")
    worker0, _ = _pod(job, "Worker", 0)
    worker1, _ = _pod(job, "Worker", 1)
    port = master_ports["pytorchjob-port"]
    assert port == 23456
    peers = one(objs, "NetworkPolicy", "pytorchjob-peers")
    from tests.k8s.render import selector_matches

    for name, labels in (("master", master), ("worker", worker0)):
        assert selector_matches(peers["spec"]["podSelector"], labels), (
            f"{env}: NetworkPolicy pytorchjob-peers selects {peers['spec']['podSelector']} but the {name} pod has "
            f"labels {labels}"
        )
    ns_labels = namespace_labels(objs, ns)
    common = {"src_namespace": ns, "src_namespace_labels": ns_labels, "dst_namespace": ns}
    assert ingress_allowed(
        policies, src_labels=worker0, dst_labels=master, port=port, dst_named_ports=master_ports, **common
    ), f"{env}: a worker cannot reach the master's rendezvous port {port}"
    for nccl_port in (29500, 45123):  # NCCL/gloo data ports are ephemeral: every port between ranks
        assert ingress_allowed(policies, src_labels=worker0, dst_labels=worker1, port=nccl_port, **common)
        assert ingress_allowed(policies, src_labels=master, dst_labels=worker0, port=nccl_port, **common)


def test_others_cannot_reach_the_training_pods(overlay):
    """The allowance is specific: a pipeline pod of the same namespace is still denied (default deny works)."""
    env, ns, objs, policies = overlay
    master, ports = _pod(_job(ns), "Master")
    pipeline_pod = {"pipelines.kubeflow.org/v2_component": "true", "app.kubernetes.io/part-of": "climbflow"}
    assert not ingress_allowed(
        policies,
        src_labels=pipeline_pod,
        src_namespace=ns,
        src_namespace_labels=namespace_labels(objs, ns),
        dst_labels=master,
        dst_namespace=ns,
        port=ports["pytorchjob-port"],
    ), f"{env}: a non-training pod reaches the PyTorchJob master"


def test_mlflow_is_reachable_from_pipeline_and_training_pods_only_on_its_port(overlay):
    env, ns, objs, policies = overlay
    deployment = one(objs, "Deployment", "mlflow")
    mlflow = deployment["spec"]["template"]["metadata"]["labels"]
    port = deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    worker, _ = _pod(_job(ns), "Worker")
    ns_labels = namespace_labels(objs, ns)
    kubeflow = {"kubernetes.io/metadata.name": "kubeflow"}
    for src, src_ns, src_ns_labels in (
        (worker, ns, ns_labels),
        ({"pipelines.kubeflow.org/v2_component": "true"}, ns, ns_labels),
        ({"workflows.argoproj.io/workflow": "x"}, "kubeflow", kubeflow),
    ):
        assert ingress_allowed(
            policies,
            src_labels=src,
            src_namespace=src_ns,
            src_namespace_labels=src_ns_labels,
            dst_labels=mlflow,
            dst_namespace=ns,
            port=port,
        ), f"{env}: {src} in namespace {src_ns} cannot reach MLflow:{port}"
    assert not ingress_allowed(
        policies,
        src_labels=worker,
        src_namespace=ns,
        src_namespace_labels=ns_labels,
        dst_labels=mlflow,
        dst_namespace=ns,
        port=22,
    )
    other = {"kubernetes.io/metadata.name": "elsewhere"}
    assert not ingress_allowed(
        policies,
        src_labels={},
        src_namespace="elsewhere",
        src_namespace_labels=other,
        dst_labels=mlflow,
        dst_namespace=ns,
        port=port,
    )


def test_the_policy_evaluator_sees_a_selector_mismatch():
    """The check can fail: a policy selecting a label the pods lack leaves them under default deny."""
    policies = [
        {"metadata": {"namespace": "n"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
        {
            "metadata": {"namespace": "n"},
            "spec": {
                "podSelector": {"matchLabels": {"a": "1", "part-of": "x"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"a": "1", "part-of": "x"}}}]}],
            },
        },
    ]
    kw = {"src_namespace": "n", "src_namespace_labels": {}, "dst_namespace": "n", "port": 1}
    assert not ingress_allowed(policies, src_labels={"a": "1"}, dst_labels={"a": "1"}, **kw)
    assert ingress_allowed(
        policies, src_labels={"a": "1", "part-of": "x"}, dst_labels={"a": "1", "part-of": "x"}, **kw
    )
