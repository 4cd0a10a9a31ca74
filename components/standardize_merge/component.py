"""KFP component `standardize_merge`: merge the range parts into the DVC-versioned store; returns its URI."""

from typing import List

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def standardize_merge(
    params_json: str,
    tracking_json: str,
    pipeline_run_id: str,
    dataset: str,
    snapshot: str,
    validation: str,
    parts: List[str],
) -> str:
    """Merge the range parts into the DVC-versioned store; returns its URI."""
    from climbflow.tasks import execute_json

    return execute_json(
        "standardize_merge",
        params_json,
        tracking_json,
        pipeline_run_id=pipeline_run_id,
        dataset=dataset,
        snapshot=snapshot,
        validation=validation,
        parts=parts,
    )
