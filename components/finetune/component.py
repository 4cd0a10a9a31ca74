"""KFP component `finetune`: Finetune the pretrained encoder on one target dataset; returns the model URI."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def finetune(
    params_json: str,
    tracking_json: str,
    pipeline_run_id: str,
    target: str,
    pretrained: str,
    standardized: list[str],
) -> str:
    """Finetune the pretrained encoder on one target dataset; returns the model URI."""
    from climbflow.tasks import execute_json

    return execute_json(
        "finetune",
        params_json,
        tracking_json,
        pipeline_run_id=pipeline_run_id,
        target=target,
        pretrained=pretrained,
        standardized=standardized,
    )
