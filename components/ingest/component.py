"""KFP component `ingest`: Snapshot a raw dataset copy (folder or s3:// prefix) into the raw store; returns the snapshot URI."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def ingest(params_json: str, tracking_json: str, pipeline_run_id: str, dataset: str) -> str:
    """Snapshot a raw dataset copy (folder or s3:// prefix) into the raw store; returns the snapshot URI."""
    from climbflow.tasks import execute_json

    return execute_json(
        "ingest", params_json, tracking_json, pipeline_run_id=pipeline_run_id, dataset=dataset
    )
