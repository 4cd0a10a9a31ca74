"""Where each task runs on Kubernetes: the one place that applies node pools, GPUs, resources, /dev/shm,
Secrets, the ConfigMap and the data PVC to pipeline tasks (from ``params.cluster``).

GPU tasks (pretrain, finetune, evaluate when ``evaluate_on_gpu``): GPU node selector + tolerations, accelerator
type and limit (pipeline parameters), GPU requests/limits, a memory-backed ``/dev/shm`` emptyDir (PyTorch
DataLoader workers share batches through it; the container default of 64 MiB crashes them). CPU tasks: the
CPU pool's selector and requests, no GPU, no tolerations. Both get the S3 / MLflow credentials from Secrets as
env, the connection ConfigMap as env and, when configured, the data PVC.

Every task also gets (in ``_common``, which every helper here applies):

- caching off. The KFP backend's cache key is the task's inputs + image + command only, so a recurring run
  would reuse configure / plan / ingest / promote results forever and never see new data; the stages cache
  themselves by content (``climb submit`` / ``climb schedule`` also send ``enable_caching=False``).
- a Pod-Security-"restricted" security context: uid/gid 10001 (the image's user), ``runAsNonRoot``.
  kfp-kubernetes 2.17's SecurityContext carries only these identity fields; the no-privilege-escalation,
  drop-ALL-capabilities and RuntimeDefault-seccomp defaults are the KFP backend's to set on the pod.
"""

from __future__ import annotations

from typing import Any

from kfp import kubernetes

from climbflow.config import ClusterConfig, ResourcesConfig

SHM_VOLUME = "dshm"
RUN_AS_USER = 10001  # docker/Dockerfile: USER 10001:10001


def _resources(task: Any, res: ResourcesConfig) -> None:
    task.set_cpu_request(res.cpu_request).set_memory_request(res.memory_request)
    if res.cpu_limit:
        task.set_cpu_limit(res.cpu_limit)
    if res.memory_limit:
        task.set_memory_limit(res.memory_limit)


def _common(task: Any, cluster: ClusterConfig) -> None:
    """No KFP caching, the non-root security context, credentials from Secrets, connection config from the
    ConfigMap, the optional data PVC."""
    task.set_caching_options(enable_caching=False)
    kubernetes.set_security_context(
        task, run_as_user=RUN_AS_USER, run_as_group=RUN_AS_USER, run_as_non_root=True
    )
    if cluster.s3_secret:
        kubernetes.use_secret_as_env(task, cluster.s3_secret, {k: k for k in cluster.s3_secret_keys})
    if cluster.mlflow_secret:
        kubernetes.use_secret_as_env(
            task, cluster.mlflow_secret, {k: k for k in cluster.mlflow_secret_keys}, optional=True
        )
    if cluster.config_map:
        kubernetes.use_config_map_as_env(task, cluster.config_map, {k: k for k in cluster.config_map_keys})
    if cluster.data_pvc:
        kubernetes.mount_pvc(task, cluster.data_pvc, cluster.data_mount_path)


def cpu_task(task: Any, cluster: ClusterConfig) -> Any:
    """Place ``task`` on the CPU pool."""
    _resources(task, cluster.cpu_resources)
    for key, value in sorted(cluster.cpu_node_selector.items()):
        kubernetes.add_node_selector(task, key, value)
    _common(task, cluster)
    return task


def gpu_task(task: Any, cluster: ClusterConfig, gpu_count: Any = None, gpu_type: Any = None) -> Any:
    """Place ``task`` on the GPU pool; ``gpu_count`` / ``gpu_type`` may be pipeline parameters."""
    _resources(task, cluster.gpu_resources)
    task.set_accelerator_type(gpu_type if gpu_type is not None else cluster.accelerator_type)
    task.set_accelerator_limit(gpu_count if gpu_count is not None else cluster.gpu_count)
    for key, value in sorted(cluster.gpu_node_selector.items()):
        kubernetes.add_node_selector(task, key, value)
    for tol in cluster.gpu_tolerations:
        kubernetes.add_toleration(
            task, key=tol.key, operator=tol.operator, value=tol.value, effect=tol.effect
        )
    kubernetes.empty_dir_mount(
        task, volume_name=SHM_VOLUME, mount_path="/dev/shm", medium="Memory", size_limit=cluster.shm_size
    )
    _common(task, cluster)
    return task


def launcher_task(task: Any, cluster: ClusterConfig) -> Any:
    """The PyTorchJob launcher: a small CPU pod that needs the pipeline service account's RBAC."""
    cpu_task(task, cluster)
    return task


def images(params: Any) -> dict[str, Any]:
    """Every component re-wrapped with the images of ``params.cluster`` (GPU image for GPU tasks)."""
    from kfp import dsl

    from components.configure import configure
    from components.evaluate import evaluate
    from components.finetune import finetune
    from components.ingest import ingest
    from components.pipeline_run import finish_pipeline_run, start_pipeline_run
    from components.plan import plan
    from components.pretrain import pretrain
    from components.pretrain_job import pretrain_job
    from components.promote import promote
    from components.standardize import standardize
    from components.standardize_merge import standardize_merge
    from components.standardize_plan import standardize_plan
    from components.standardize_range import standardize_range
    from components.validate import validate

    cluster = params.cluster
    gpu = {"pretrain", "finetune"} | ({"evaluate"} if cluster.evaluate_on_gpu else set())
    out = {}
    for comp in (
        configure,
        ingest,
        validate,
        standardize,
        standardize_plan,
        standardize_range,
        standardize_merge,
        pretrain,
        pretrain_job,
        finetune,
        evaluate,
        plan,
        promote,
        start_pipeline_run,
        finish_pipeline_run,
    ):
        name = comp.python_func.__name__
        image = cluster.gpu_image if name in gpu else cluster.image
        out[name] = dsl.component(base_image=image, install_kfp_package=False)(comp.python_func)
    return out
