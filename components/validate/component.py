"""KFP component `validate`: Great Expectations suites on a snapshot; fails closed. Returns the validation
report URI and shows the validation summary (Markdown) in the Kubeflow UI."""

from kfp import dsl
from kfp.dsl import Markdown, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def validate(
    params_json: str,
    tracking_json: str,
    pipeline_run_id: str,
    dataset: str,
    snapshot: str,
    summary: Output[Markdown],
) -> str:
    """Great Expectations suites on a snapshot; fails closed. Returns the validation report URI."""
    from climbflow.tasks import execute_json

    uri = execute_json(
        "validate",
        params_json,
        tracking_json,
        pipeline_run_id=pipeline_run_id,
        dataset=dataset,
        snapshot=snapshot,
    )

    # --- Kubeflow UI artifact: the stage's human summary ---
    from climbflow.stages.base import read_report

    rep = read_report(uri)
    with open(summary.path, "w") as fh:
        fh.write(rep.get("summary") or f"# Validation of {dataset}: passed={rep.get('passed')}\n")
    return uri
