"""Launch multi-node pretraining as a Kubeflow Training Operator PyTorchJob and watch it to completion.

:func:`render` turns ``pytorchjob.yaml`` (next to this module) + ``params.cluster`` into the job manifest;
:func:`run_job` creates it (or adopts an existing job of the same name: a retried task does not start a second
job), polls its status conditions until Succeeded / Failed / timeout, and on failure raises
:class:`JobFailed` with the operator's message and the master pod's last log lines.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shlex
import time
from pathlib import Path
from typing import Any

import yaml

GROUP, VERSION, PLURAL = "kubeflow.org", "v1", "pytorchjobs"
TEMPLATE = Path(__file__).with_name("pytorchjob.yaml")
JOB_LABEL = "training.kubeflow.org/job-name"
ROLE_LABEL = "training.kubeflow.org/replica-type"
# Labels of every job pod: NetworkPolicy pytorchjob-peers (k8s/base/networkpolicy.yaml) selects and admits pods
# with them, so workers reach the master's rendezvous port and NCCL/gloo ports.
POD_LABELS = {
    "app.kubernetes.io/name": "climbflow",
    "app.kubernetes.io/part-of": "climbflow",
    "app.kubernetes.io/component": "pretrain-job",
}
# Restricted Pod Security Standard (namespaces enforce it): set on the pod and on every container of the template.
RUN_AS = 10001
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": RUN_AS,
    "runAsGroup": RUN_AS,
    "fsGroup": RUN_AS,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": RUN_AS,
    "runAsGroup": RUN_AS,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


class JobFailed(RuntimeError):
    """The PyTorchJob failed, timed out or could not be created; the message says which and why."""


def distributed_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with pretrain set to DDP over the job's nodes x GPUs (the job and the launcher agree)."""
    job = params["cluster"]["pytorchjob"]
    out = copy.deepcopy(params)
    out["pretrain"].update(
        {"num_nodes": int(job["nodes"]), "devices": max(1, int(job["gpus_per_node"])), "strategy": "ddp"}
    )
    return out


def job_name(modality: str, params: dict[str, Any], standardized: list[str]) -> str:
    """Deterministic name (same inputs -> same job), a valid DNS-1035 label."""
    digest = hashlib.sha256(json.dumps([params, sorted(standardized)], sort_keys=True).encode()).hexdigest()
    return f"climb-pretrain-{modality.replace('_', '-')}-{digest[:10]}"


def _resources(res: dict[str, Any], gpus: int, accelerator: str) -> dict[str, Any]:
    requests = {"cpu": res["cpu_request"], "memory": res["memory_request"]}
    limits = {k: v for k, v in (("cpu", res["cpu_limit"]), ("memory", res["memory_limit"])) if v}
    if gpus:
        requests[accelerator] = str(gpus)
        limits[accelerator] = str(gpus)
    return {"requests": requests, "limits": limits}


def _restricted(template: dict[str, Any], modality: str) -> None:
    """Give one replica's pod template the job labels and a restricted securityContext (pod + every container).

    The template's other securityContext fields are kept; the ones above are forced (a custom template that
    loosens them is overridden, not trusted), and ``privileged`` is dropped.
    """
    meta = template.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), **POD_LABELS, "climbflow.io/modality": modality}
    pod = template["spec"]
    pod["securityContext"] = {**(pod.get("securityContext") or {}), **POD_SECURITY}
    for container in pod.get("initContainers", []) + pod["containers"]:
        sc = {**(container.get("securityContext") or {}), **CONTAINER_SECURITY}
        sc.pop("privileged", None)
        container["securityContext"] = sc


def render(
    params: dict[str, Any], modality: str, standardized: list[str], template: Path | str = TEMPLATE
) -> dict[str, Any]:
    """The PyTorchJob manifest for pretraining ``modality`` (``params``: already :func:`distributed_params`)."""
    cluster = params["cluster"]
    job = cluster["pytorchjob"]
    nodes, gpus = int(job["nodes"]), int(job["gpus_per_node"])
    nproc = max(1, gpus)
    manifest = yaml.safe_load(Path(template).read_text())
    manifest["metadata"]["name"] = job_name(modality, params, standardized)
    manifest["metadata"]["namespace"] = job["namespace"]
    manifest["metadata"]["labels"]["climbflow.io/modality"] = modality
    manifest["spec"]["nprocPerNode"] = str(nproc)
    stage = ["climb", "stage", "pretrain", "--params", "/tmp/params.json", "--modality", modality]
    for store in standardized:
        stage += ["--standardized", store]
    script = (
        'printf "%s" "$CLIMB_PARAMS_JSON" > /tmp/params.json && exec torchrun '
        f"--nnodes={nodes} --nproc-per-node={nproc} "
        '--node-rank="${PET_NODE_RANK:-${RANK:-0}}" --master-addr="${MASTER_ADDR:-localhost}" '
        '--master-port="${MASTER_PORT:-23456}" --no-python ' + shlex.join(stage)
    )
    env = [{"name": "CLIMB_PARAMS_JSON", "value": json.dumps(params, sort_keys=True)}]
    for secret, keys, optional in (
        (cluster["s3_secret"], cluster["s3_secret_keys"], False),
        (cluster["mlflow_secret"], cluster["mlflow_secret_keys"], True),
    ):
        if secret:
            env += [
                {"name": k, "valueFrom": {"secretKeyRef": {"name": secret, "key": k, "optional": optional}}}
                for k in keys
            ]
    env_from = [{"configMapRef": {"name": cluster["config_map"]}}] if cluster["config_map"] else []
    specs = manifest["spec"]["pytorchReplicaSpecs"]
    for role in list(specs):
        spec = copy.deepcopy(specs[role])
        pod = spec["template"]["spec"]
        pod["serviceAccountName"] = job["service_account"]
        container = pod["containers"][0]
        container["image"] = cluster["gpu_image"] if gpus else cluster["image"]
        container["command"] = ["/bin/sh", "-c", script]
        container["env"] = env
        if env_from:
            container["envFrom"] = env_from
        container["resources"] = _resources(
            cluster["gpu_resources" if gpus else "cpu_resources"], gpus, cluster["accelerator_type"]
        )
        selector = cluster["gpu_node_selector" if gpus else "cpu_node_selector"]
        if selector:
            pod["nodeSelector"] = dict(selector)
        if gpus and cluster["gpu_tolerations"]:
            pod["tolerations"] = [
                {k: v for k, v in tol.items() if v is not None} for tol in cluster["gpu_tolerations"]
            ]
        for vol in pod["volumes"]:
            if vol["name"] == "dshm":
                vol["emptyDir"]["sizeLimit"] = cluster["shm_size"]
        if cluster.get("data_pvc"):
            pod["volumes"].append(
                {"name": "data", "persistentVolumeClaim": {"claimName": cluster["data_pvc"]}}
            )
            container["volumeMounts"].append({"name": "data", "mountPath": cluster["data_mount_path"]})
        _restricted(spec["template"], modality)
        specs[role] = spec
    if nodes == 1:
        del specs["Worker"]
    else:
        specs["Worker"]["replicas"] = nodes - 1
    return manifest


def _condition(job: dict[str, Any]) -> tuple[str, str]:
    """The job's latest true condition type (Created/Running/Restarting/Succeeded/Failed) and its message."""
    conditions = [c for c in (job.get("status") or {}).get("conditions") or [] if c.get("status") == "True"]
    if not conditions:
        return "Pending", ""
    last = conditions[-1]
    return last["type"], last.get("message", "")


def _master_log(core: Any, namespace: str, name: str, lines: int = 40) -> str:
    try:
        pods = core.list_namespaced_pod(namespace, label_selector=f"{JOB_LABEL}={name},{ROLE_LABEL}=master")
        if not pods.items:
            return "(no master pod)"
        return core.read_namespaced_pod_log(pods.items[0].metadata.name, namespace, tail_lines=lines)
    except Exception as exc:  # the log is a courtesy: never hide the job's own failure behind it
        return f"(master log unavailable: {exc})"


def run_job(
    manifest: dict[str, Any],
    api_client: Any = None,
    timeout_seconds: float = 6 * 3600,
    poll_seconds: float = 15.0,
    delete_on_finish: bool = False,
    clock: Any = time,
) -> dict[str, Any]:
    """Create ``manifest`` (or adopt the existing job of that name) and wait until it succeeds.

    Raises :class:`JobFailed` when it fails, times out (the job is then deleted) or cannot be created.
    """
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    if api_client is None:
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        api_client = client.ApiClient()
    custom, core = client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)
    namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
    where = f"PyTorchJob {namespace}/{name}"
    try:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)
    except ApiException as exc:
        if exc.status != 409:  # 409: created by an earlier try of this task: watch that one
            hint = {
                403: " (RBAC: the pipeline service account needs create on pytorchjobs)",
                404: " (is the Kubeflow Training Operator installed? no pytorchjobs.kubeflow.org CRD)",
            }
            raise JobFailed(
                f"{where}: create failed: HTTP {exc.status} {exc.reason}{hint.get(exc.status, '')}"
            ) from None
    deadline = clock.monotonic() + timeout_seconds
    while True:
        try:
            job = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as exc:
            raise JobFailed(f"{where}: get failed: HTTP {exc.status} {exc.reason}") from None
        state, message = _condition(job)
        if state == "Succeeded":
            if delete_on_finish:
                custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
            return job
        if state == "Failed":
            log = _master_log(core, namespace, name)
            raise JobFailed(f"{where} failed: {message or 'no message'}\n--- master log (tail) ---\n{log}")
        if clock.monotonic() >= deadline:
            custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
            raise JobFailed(
                f"{where}: not finished after {timeout_seconds:.0f} s (last state {state}); deleted"
            )
        clock.sleep(poll_seconds)
