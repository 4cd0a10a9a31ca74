"""KFP component `pretrain`: Multi-task pretraining of one modality's encoder on all its standardized datasets."""

from typing import List

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def pretrain(
    params_json: str, tracking_json: str, pipeline_run_id: str, modality: str, standardized: List[str]
) -> str:
    """Multi-task pretraining of one modality's encoder on all its standardized datasets."""
    from climbflow.tasks import execute_json

    return execute_json(
        "pretrain",
        params_json,
        tracking_json,
        pipeline_run_id=pipeline_run_id,
        modality=modality,
        standardized=standardized,
    )
