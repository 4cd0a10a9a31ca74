"""The retraining pipeline (recurring run): plan -> if any data version changed since the champions were
trained (or ``force``) -> the training steps -> the promotion gate for each target's challenger.

The full params are a constant of the compiled YAML (see pipelines/training.py); every task has KFP caching
off (pipelines/kubernetes.py), so each scheduled run plans against the data of that day."""

# no `from __future__ import annotations`: KFP reads the pipeline function's annotations as types

from kfp import dsl

from climbflow.config import Params
from pipelines.kubernetes import cpu_task, images
from pipelines.training import configure_task, params_constant, training_steps, ui_defaults

PIPELINE_NAME = "climb-retraining"


def build(params: Params):
    """The retraining pipeline function for ``params``."""
    d = ui_defaults(params)
    enabled = params.enabled_datasets()
    comp = images(params)

    @dsl.pipeline(name=PIPELINE_NAME, description="CLIMB: retrain when data changed, then the promotion gate")
    def retraining(
        tracking_json: str = "",
        datasets: list = enabled,  # noqa: B006 - KFP reads the default as the UI default
        pretrain_epochs: int = d["pretrain_epochs"],
        finetune_epochs: int = d["finetune_epochs"],
        batch_size: int = d["batch_size"],
        overrides: dict = {},  # noqa: B006 - dotted params keys, e.g. gate thresholds
        force: bool = False,
        actor: str = "kubeflow-recurring-run",
    ):
        # GPUs per task come from params.yaml (cluster.gpu_count / accelerator_type), not from run parameters:
        # kfp 2.17's compiler does not pass a parameter used only as an accelerator setting into the dsl.If
        # branch, so the backend could not resolve it there (tests/pipelines checks every branch's inputs)
        gpu_count, gpu_type = d["gpu_count"], d["gpu_type"]
        cfg = configure_task(
            params, pretrain_epochs, finetune_epochs, batch_size, overrides, gpu_count, gpu_type
        )
        decided = comp["plan"](params_json=cfg.output, force=force).set_display_name("plan")
        cpu_task(decided, params.cluster)
        with dsl.If(decided.outputs["Output"] == True, name="data-changed"):  # noqa: E712 - KFP condition
            evaluations = training_steps(
                params, params_constant(params), cfg.output, tracking_json, datasets, gpu_count, gpu_type
            )
            for target, ev in evaluations.items():
                gate = comp["promote"](
                    params_json=cfg.output,
                    target=target,
                    force=False,
                    reason="",
                    actor=actor,
                    after=ev.outputs["Output"],
                ).set_display_name(f"promote {target}")
                cpu_task(gate, params.cluster)

    return retraining
