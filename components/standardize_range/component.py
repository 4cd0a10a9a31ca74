"""KFP component `standardize_range`: standardize one shard range into its part; returns the part URI."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def standardize_range(params_json: str, item: str) -> str:
    """Standardize one shard range into its part; returns the part URI."""
    from climbflow.tasks import call_json

    return call_json("standardize_range", params_json, item=item)
