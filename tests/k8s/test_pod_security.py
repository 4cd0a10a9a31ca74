"""Restricted Pod Security Standard for every pod climbflow puts in its namespaces: the MLflow Deployment (both
overlays, rendered by real kubectl kustomize) and the PyTorchJob pods rendered by the launcher itself
(climbflow.cluster.pytorchjob.render), the worker pods including the `init-pytorch` init container the
Training Operator injects (from k8s/training-operator's template, rendered as the operator does). The rules come
from tests/k8s/pod_security.py, an oracle written from the Kubernetes documentation.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

from climbflow.cluster.pytorchjob import TEMPLATE, distributed_params, render
from tests.k8s.pod_security import violations
from tests.k8s.render import K8S, REPO, by_kind, kustomize, one

OVERLAYS = ["dev", "prod"]
UID = 10001


def _params(nodes=3, gpus=2, **cluster):
    from climbflow.config import load

    data = load(REPO / "params.yaml").to_dict()
    data["cluster"]["pytorchjob"].update({"enabled": True, "nodes": nodes, "gpus_per_node": gpus})
    data["cluster"].update(cluster)
    return distributed_params(data)


def operator_init_containers(master_addr: str) -> list[dict]:
    """The init containers the Training Operator v1.9 injects into worker pods with k8s/training-operator's
    template: it executes the Go template with .InitContainerImage / .MasterAddr / .MaxTries and parses the
    result as a YAML list of containers (pkg/controller.v1/pytorch/initcontainer.go)."""
    cm = yaml.safe_load((K8S / "training-operator" / "init-container.yaml").read_text())
    template = cm["data"]["initContainer.yaml"]
    values = {"InitContainerImage": "alpine:3.10", "MasterAddr": master_addr, "MaxTries": "100"}
    actions = re.findall(r"\{\{(.*?)\}\}", template)
    assert {a.strip() for a in actions} <= {f".{k}" for k in values}, (
        f"template uses other actions: {actions}"
    )
    text = re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: values[m.group(1)], template)
    containers = yaml.safe_load(text)
    assert isinstance(containers, list) and containers[0]["name"] == "init-pytorch"
    return containers


def job_pods(manifest: dict) -> dict[str, dict]:
    """Pod templates as the operator creates the pods: workers get the injected init container."""
    name = manifest["metadata"]["name"]
    pods = {}
    for role, spec in manifest["spec"]["pytorchReplicaSpecs"].items():
        template = yaml.safe_load(yaml.safe_dump(spec["template"]))
        if role == "Worker":
            pod = template["spec"]
            pod["initContainers"] = pod.get("initContainers", []) + operator_init_containers(
                f"{name}-master-0"
            )
        pods[role] = template
    return pods


def test_the_oracle_catches_what_the_restricted_profile_forbids():
    good = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "c",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
        "volumes": [{"name": "t", "emptyDir": {}}],
    }
    assert violations(good) == []
    # the Training Operator's built-in init container (no securityContext) in an otherwise good pod
    injected = yaml.safe_load(yaml.safe_dump(good))
    injected["initContainers"] = [{"name": "init-pytorch", "image": "alpine:3.10"}]
    found = violations(injected)
    assert any("Privilege escalation: initContainers[init-pytorch]" in v for v in found), found
    assert any("Capabilities: initContainers[init-pytorch] does not drop ALL" in v for v in found), found
    for mutate, rule in [
        (lambda p: p.update(hostNetwork=True), "Host namespaces"),
        (lambda p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "HostPath volumes"),
        (lambda p: p["volumes"].append({"name": "n", "nfs": {"server": "x", "path": "/"}}), "Volume types"),
        (lambda p: p["securityContext"].pop("runAsNonRoot"), "Running as non-root"),
        (lambda p: p["securityContext"].update(runAsUser=0), "Running as non-root user"),
        (lambda p: p["securityContext"].pop("seccompProfile"), "Seccomp"),
        (lambda p: p["containers"][0]["securityContext"].update(privileged=True), "Privileged containers"),
        (
            lambda p: p["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
            "Capabilities",
        ),
        (lambda p: p["containers"][0].update(ports=[{"containerPort": 1, "hostPort": 80}]), "Host ports"),
        (
            lambda p: p["containers"][0]["securityContext"].update(seccompProfile={"type": "Unconfined"}),
            "Seccomp",
        ),
    ]:
        pod = yaml.safe_load(yaml.safe_dump(good))
        mutate(pod)
        assert any(v.startswith(rule) for v in violations(pod)), (rule, violations(pod))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_workload_is_restricted(overlay):
    objs = kustomize(K8S / "overlays" / overlay)
    workloads = [
        o for o in objs if o["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}
    ]
    assert [w["metadata"]["name"] for w in workloads] == ["mlflow"]
    for w in workloads:
        template = w["spec"]["template"]
        found = violations(template["spec"], template["metadata"].get("annotations"))
        assert not found, f"{overlay}: {w['kind']}/{w['metadata']['name']} violates restricted: {found}"
        for c in template["spec"]["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == UID, f"{c['name']}: not uid {UID}"
            assert sc["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("nodes,gpus,pvc", [(3, 2, "climb-data"), (1, 0, None)])
def test_launcher_pytorchjob_pods_are_restricted(nodes, gpus, pvc):
    import kubernetes_validate

    manifest = render(_params(nodes, gpus, data_pvc=pvc), "ecg", ["s3://b/std/ptbxl/1"])
    pods = job_pods(manifest)
    assert set(pods) == ({"Master", "Worker"} if nodes > 1 else {"Master"})
    for role, template in pods.items():
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template},
            "1.30",
            strict=True,
        )
        found = violations(template["spec"], template["metadata"].get("annotations"))
        assert not found, f"PyTorchJob {role} pod violates restricted: {found}"
        for c in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            sc = c.get("securityContext") or {}
            want = {"runAsNonRoot": True, "runAsUser": UID, "allowPrivilegeEscalation": False}
            assert {k: sc.get(k) for k in want} == want, f"{role}/{c['name']}: securityContext {sc}"
            assert sc["capabilities"]["drop"] == ["ALL"] and sc["seccompProfile"]["type"] == "RuntimeDefault"
    if nodes > 1:
        assert [c["name"] for c in pods["Worker"]["spec"]["initContainers"]] == ["init-pytorch"]


def test_launcher_restricts_a_template_that_does_not(tmp_path):
    """A custom template without securityContext (or a loosened one) still renders restricted pods."""
    job = yaml.safe_load(TEMPLATE.read_text())
    for spec in job["spec"]["pytorchReplicaSpecs"].values():
        spec["template"]["spec"].pop("securityContext", None)  # Master and Worker share one YAML anchor
        container = spec["template"]["spec"]["containers"][0]
        container["securityContext"] = {"privileged": True, "allowPrivilegeEscalation": True}
    loose = tmp_path / "pytorchjob.yaml"
    loose.write_text(yaml.safe_dump(job))
    manifest = render(_params(2, 1), "ecg", ["s3://b/x"], template=loose)
    for role, template in job_pods(manifest).items():
        assert not violations(template["spec"]), (role, violations(template["spec"]))


def test_training_operator_component_mounts_the_template_where_the_operator_reads_it(tmp_path):
    """k8s/training-operator, applied (real kustomize) to a Training Operator Deployment, puts the template at
    /etc/config/initContainer.yaml: the default of --pytorch-init-container-template-file in v1.9."""
    import kubernetes_validate

    (tmp_path / "operator.yaml").write_text(
        yaml.safe_dump(
            {  # the shape of the upstream v1.9 install: Deployment training-operator, container training-operator
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "training-operator", "namespace": "kubeflow"},
                "spec": {
                    "selector": {"matchLabels": {"control-plane": "kubeflow-training-operator"}},
                    "template": {
                        "metadata": {"labels": {"control-plane": "kubeflow-training-operator"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "training-operator",
                                    "image": "kubeflow/training-operator",
                                    "command": ["/manager"],
                                }
                            ]
                        },
                    },
                },
            }
        )
    )
    component = os.path.relpath(K8S / "training-operator", tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": ["operator.yaml"], "components": [component]})
    )
    objs = kustomize(tmp_path)
    for o in objs:
        kubernetes_validate.validate(o, "1.30", strict=True)
    (deployment,) = by_kind(objs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mount = next(m for m in container.get("volumeMounts", []) if m["mountPath"] == "/etc/config")
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    cm_name = volume["configMap"]["name"]
    files = {i["path"]: i["key"] for i in volume["configMap"].get("items", [])} or None
    cm = one(objs, "ConfigMap", cm_name)
    assert cm["metadata"]["namespace"] == deployment["metadata"]["namespace"] == "kubeflow"
    key = files["initContainer.yaml"] if files else "initContainer.yaml"
    assert key in cm["data"], "no /etc/config/initContainer.yaml in the operator's pod"
    assert container["command"] == ["/manager"] and "args" not in container  # the default path is used
