"""KFP component `pretrain_job`: multi-node pretraining of one modality as a Kubeflow Training Operator
PyTorchJob (N nodes x G GPUs, Lightning DDP via `climb stage pretrain`), created and watched from this small
CPU pod; then the pretrain stage is run here with the same params, which finds the job's finished output in the
stage cache and returns (and records) its URI. The job logic lives in climbflow.cluster.pytorchjob."""

from typing import List

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def pretrain_job(
    params_json: str, tracking_json: str, pipeline_run_id: str, modality: str, standardized: List[str]
) -> str:
    """Run pretraining of ``modality`` as a PyTorchJob; returns the pretrain output URI."""
    import json

    from climbflow.cluster.pytorchjob import distributed_params, render, run_job
    from climbflow.tasks import execute_json

    params = distributed_params(json.loads(params_json))
    job = params["cluster"]["pytorchjob"]
    run_job(
        render(params, modality, list(standardized)),
        timeout_seconds=job["timeout_seconds"],
        poll_seconds=job["poll_seconds"],
        delete_on_finish=job["delete_on_finish"],
    )
    return execute_json(
        "pretrain",
        json.dumps(params),
        tracking_json,
        pipeline_run_id=pipeline_run_id,
        modality=modality,
        standardized=list(standardized),
    )
