"""KFP component `validate`: Great Expectations suites on a snapshot; fails closed. Returns the validation report URI."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def validate(params_json: str, tracking_json: str, dataset: str, snapshot: str) -> str:
    """Great Expectations suites on a snapshot; fails closed. Returns the validation report URI."""
    from climbflow.stages import execute_json

    return execute_json("validate", params_json, tracking_json, dataset=dataset, snapshot=snapshot)
