"""KFP component `standardize`: Write the standardized, DVC-versioned store of a validated snapshot; returns its URI."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def standardize(
    params_json: str, tracking_json: str, pipeline_run_id: str, dataset: str, snapshot: str, validation: str
) -> str:
    """Write the standardized, DVC-versioned store of a validated snapshot; returns its URI."""
    from climbflow.tasks import execute_json

    return execute_json(
        "standardize",
        params_json,
        tracking_json,
        pipeline_run_id=pipeline_run_id,
        dataset=dataset,
        snapshot=snapshot,
        validation=validation,
    )
