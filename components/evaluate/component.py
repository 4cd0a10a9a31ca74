"""KFP component `evaluate`: Test-split metrics + report for a finetuned model; registers it as challenger in MLflow."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate(params_json: str, tracking_json: str, target: str, model: str, standardized: list[str]) -> str:
    """Test-split metrics + report for a finetuned model; registers it as challenger in MLflow."""
    from climbflow.stages import execute_json

    return execute_json(
        "evaluate", params_json, tracking_json, target=target, model=model, standardized=standardized
    )
