"""KFP component `standardize_plan`: the shard ranges of a validated snapshot, one item per parallel task."""

from typing import List

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def standardize_plan(params_json: str, dataset: str, snapshot: str, validation: str) -> List[str]:
    """The shard ranges of a validated snapshot (one self-contained JSON item per range)."""
    from climbflow.tasks import call_json

    return call_json(
        "standardize_plan", params_json, dataset=dataset, snapshot=snapshot, validation=validation
    )
