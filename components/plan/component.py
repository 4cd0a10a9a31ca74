"""KFP component `plan`: compare the data versions that would be used now with the champions' (retraining)."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Markdown, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def plan(params_json: str, force: bool, summary: Output[Markdown]) -> NamedTuple(
    "Plan", [("changed", bool), ("plan_json", str)]
):
    """Whether any data version changed since the champions were trained (or ``force``), and the plan."""
    import json
    from collections import namedtuple

    from climbflow.config import parse
    from climbflow.registry.retrain import plan as retrain_plan

    decided = retrain_plan(
        parse(json.loads(params_json), origin="pipeline parameter params_json"), force=force
    )
    body = decided.to_dict()
    with open(summary.path, "w") as fh:
        fh.write(f"# Retraining plan: {'retrain' if decided.changed else 'no change'}\n\n")
        fh.write("```json\n" + json.dumps(body, indent=2, sort_keys=True, default=str) + "\n```\n")
    return namedtuple("Plan", ["changed", "plan_json"])(bool(decided.changed), json.dumps(body, default=str))
