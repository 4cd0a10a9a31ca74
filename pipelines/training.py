"""The training pipeline: per dataset ingest -> validate -> standardize (ParallelFor), then per modality
multi-task pretrain, per target finetune -> evaluate (registers the model as challenger).

Modalities and targets are unrolled from params.yaml at compile time (their task names show in the UI);
the dataset list, the full params and the tracking context are pipeline parameters a user can edit in the UI.
"""

import json

from kfp import dsl

from climbflow import catalog
from climbflow.config import Params
from components.evaluate import evaluate
from components.finetune import finetune
from components.ingest import ingest
from components.pretrain import pretrain
from components.standardize import standardize
from components.validate import validate

PIPELINE_NAME = "climb-training"


def build(params: Params):
    """The training pipeline function for ``params`` (defaults of its parameters come from them)."""
    datasets = params.enabled_datasets()
    modality_of = {name: catalog.get(name).modality for name in datasets}
    modalities = [m for m in params.pretrain.modalities if m in modality_of.values()]
    targets = [t for t in params.finetune.targets if t in datasets]
    default_params = json.dumps(params.to_dict(), sort_keys=True)

    @dsl.pipeline(
        name=PIPELINE_NAME, description="CLIMB: ingest, validate, standardize, pretrain, finetune, evaluate"
    )
    def training(
        params_json: str = default_params,
        tracking_json: str = "",
        datasets: list = datasets,  # noqa: B006 - KFP reads the default as the UI default
    ):
        with dsl.ParallelFor(datasets) as dataset:
            snap = ingest(params_json=params_json, tracking_json=tracking_json, dataset=dataset)
            snap.set_display_name("ingest")
            val = validate(
                params_json=params_json, tracking_json=tracking_json, dataset=dataset, snapshot=snap.output
            )
            val.set_display_name("validate")
            std = standardize(
                params_json=params_json,
                tracking_json=tracking_json,
                dataset=dataset,
                snapshot=snap.output,
                validation=val.output,
            )
            std.set_display_name("standardize")
        # one dsl.Collected per consumer: kfp 2.17's compiler fails on a shared one
        encoders = {}
        for modality in modalities:
            task = pretrain(
                params_json=params_json,
                tracking_json=tracking_json,
                modality=modality,
                standardized=dsl.Collected(std.output),
            )
            encoders[modality] = task.set_display_name(f"pretrain {modality}")
        for target in targets:
            fine = finetune(
                params_json=params_json,
                tracking_json=tracking_json,
                target=target,
                pretrained=encoders[modality_of[target]].output,
                standardized=dsl.Collected(std.output),
            ).set_display_name(f"finetune {target}")
            evaluate(
                params_json=params_json,
                tracking_json=tracking_json,
                target=target,
                model=fine.output,
                standardized=dsl.Collected(std.output),
            ).set_display_name(f"evaluate {target}")

    return training
