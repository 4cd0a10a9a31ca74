"""KFP component `promote`: the promotion gate for one target's challenger (champion alias moves if it passes).

A refused challenger is a normal outcome (the task succeeds, ``passed`` is false, the decision is shown as
Markdown and as Metrics); only an error in the gate itself fails the task.
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Markdown, Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def promote(
    params_json: str,
    target: str,
    force: bool,
    reason: str,
    actor: str,
    after: str,
    decision: Output[Markdown],
    gate: Output[Metrics],
) -> NamedTuple("Promotion", [("passed", bool), ("decision_json", str)]):
    """Run the gate on the challenger of ``target``'s registered model (``after``: upstream ordering only)."""
    import json
    from collections import namedtuple

    from climbflow.config import parse
    from climbflow.registry.promotion import promote as run_gate
    from climbflow.registry.tracking import model_name

    params = parse(json.loads(params_json), origin="pipeline parameter params_json")
    outcome = run_gate(
        params, model_name(target), None, force=force, reason=reason or None, actor=actor or "kubeflow"
    )
    body = outcome.to_dict()
    gate.log_metric("passed", 1.0 if outcome.passed else 0.0)
    with open(decision.path, "w") as fh:
        fh.write(f"# Promotion of {model_name(target)}: {'PASSED' if outcome.passed else 'REFUSED'}\n\n")
        fh.write("```json\n" + json.dumps(body, indent=2, sort_keys=True, default=str) + "\n```\n")
    return namedtuple("Promotion", ["passed", "decision_json"])(
        bool(outcome.passed), json.dumps(body, default=str)
    )
