"""KFP component `plan`: compare the data versions that would be used now with the champions' (retraining)."""

from kfp import dsl
from kfp.dsl import Markdown, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def plan(params_json: str, force: bool, summary: Output[Markdown]) -> bool:
    """Whether any data version changed since the champions were trained (or ``force``); the plan itself is
    the Markdown summary. One unnamed output: kfp.local 2.17 cannot resolve a named task output in a
    ``dsl.If`` condition (it skips the branch), and the cluster backend reads either."""
    import json

    from climbflow.config import parse
    from climbflow.registry.retrain import plan as retrain_plan

    decided = retrain_plan(
        parse(json.loads(params_json), origin="pipeline parameter params_json"), force=force
    )
    body = decided.to_dict()
    with open(summary.path, "w") as fh:
        fh.write(f"# Retraining plan: {'retrain' if decided.changed else 'no change'}\n\n")
        fh.write("```json\n" + json.dumps(body, indent=2, sort_keys=True, default=str) + "\n```\n")
    return bool(decided.changed)
