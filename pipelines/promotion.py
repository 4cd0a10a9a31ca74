"""The promotion pipeline: for each target, the gate evaluates the challenger against the champion on the same
frozen test split and moves the aliases if it passes (``force`` + ``reason`` override it, recorded)."""

# no `from __future__ import annotations`: KFP reads the pipeline function's annotations as types

from kfp import dsl

from climbflow.config import Params
from pipelines.kubernetes import cpu_task, images
from pipelines.training import configure_task, ui_defaults

PIPELINE_NAME = "climb-promotion"


def build(params: Params):
    """The promotion pipeline function for ``params``."""
    d = ui_defaults(params)
    comp = images(params)
    targets = [t for t in params.finetune.targets if t in params.enabled_datasets()]

    @dsl.pipeline(name=PIPELINE_NAME, description="CLIMB: promotion gate challenger vs champion per target")
    def promotion(
        overrides: dict = {},  # noqa: B006 - dotted params keys, e.g. gate thresholds
        force: bool = False,
        reason: str = "",
        actor: str = "kubeflow-ui",
    ):
        cfg = configure_task(
            params,
            d["pretrain_epochs"],
            d["finetune_epochs"],
            d["batch_size"],
            overrides,
            d["gpu_count"],
            d["gpu_type"],
        )
        for target in targets:
            gate = comp["promote"](
                params_json=cfg.output, target=target, force=force, reason=reason, actor=actor, after=""
            ).set_display_name(f"promote {target}")
            cpu_task(gate, params.cluster)

    return promotion
