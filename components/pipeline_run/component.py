"""KFP components `start_pipeline_run` / `finish_pipeline_run`: the parent MLflow run of a pipeline run, created by
the pipeline itself (first task) and closed by its exit handler, so a run started from the Kubeflow UI or a
schedule is fully tracked with no tracking argument. ``climb run`` passes its own ``tracking_json`` instead."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def start_pipeline_run(params_json: str, tracking_json: str, pipeline_run_id: str) -> str:
    """Find or create the parent MLflow run of this pipeline run; returns the tracking JSON ('' untracked)."""
    from climbflow.tasks import pipeline_run_json

    return pipeline_run_json(params_json, tracking_json, pipeline_run_id)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def finish_pipeline_run(
    params_json: str, tracking_json: str, pipeline_run_id: str, status: dsl.PipelineTaskFinalStatus
) -> str:
    """Close the parent MLflow run with the pipeline's final state (exit handler: runs on failure too)."""
    from climbflow.tasks import pipeline_run_json

    return pipeline_run_json(params_json, tracking_json, pipeline_run_id, status=status.state)
