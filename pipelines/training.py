"""The training pipeline: per dataset ingest -> validate -> standardize (ParallelFor), then per modality
multi-task pretrain, per target finetune -> evaluate (registers the model as challenger).

Modalities and targets are unrolled from params.yaml at compile time (their task names show in the UI). The
full params are a compile-time constant of the YAML (``params_constant``), not a pipeline parameter: the
parameters a user edits in the UI's run form are the dataset list, epochs, batch size, GPU count and type, and
``overrides`` (dotted params keys -> values, e.g. ``{"finetune.lr": 0.0005}``); a first ``configure`` task
applies them on top of the constant.
"""

# no `from __future__ import annotations`: KFP reads the pipeline function's annotations as types

import json
from typing import Any

from kfp import dsl

from climbflow import catalog
from climbflow.config import Params
from pipelines.kubernetes import cpu_task, gpu_task, images

PIPELINE_NAME = "climb-training"


def params_constant(params: Params) -> str:
    """The full params as the JSON constant compiled into the YAML (the components' ``params_json``)."""
    return json.dumps(params.to_dict(), sort_keys=True)


def ui_defaults(params: Params) -> dict[str, Any]:
    """Defaults of the typed pipeline parameters of the UI's run form (from params.yaml)."""
    return {
        "pretrain_epochs": params.pretrain.epochs,
        "finetune_epochs": params.finetune.epochs,
        "batch_size": params.pretrain.batch_size,
        "gpu_count": params.cluster.gpu_count,
        "gpu_type": params.cluster.accelerator_type,
    }


def configure_task(
    params: Params, pretrain_epochs, finetune_epochs, batch_size, overrides, gpu_count, gpu_type
):
    """The ``configure`` task: the UI's parameters applied to the params constant (its output: cfg_json)."""
    comp = images(params)
    task = comp["configure"](
        params_json=params_constant(params),
        pretrain_epochs=pretrain_epochs,
        finetune_epochs=finetune_epochs,
        batch_size=batch_size,
        overrides=overrides,
        gpu_count=gpu_count,
        gpu_type=gpu_type,
    ).set_display_name("configure")
    return cpu_task(task, params.cluster)


def training_steps(
    params: Params, params_json, cfg_json, tracking_json, datasets, gpu_count, gpu_type
) -> dict[str, Any]:
    """Add the training DAG to the current pipeline; returns the evaluate task of each target.

    The data stages read the pipeline's ``params_json`` itself (kfp.local 2.17 hands a task output that
    enters a ParallelFor body over as an empty string); the training stages read the configured ``cfg_json``.
    """
    comp = images(params)
    cluster = params.cluster
    enabled = params.enabled_datasets()
    modality_of = {name: catalog.get(name).modality for name in enabled}
    modalities = [m for m in params.pretrain.modalities if m in modality_of.values()]
    targets = [t for t in params.finetune.targets if t in enabled]
    # every tracked task finds the pipeline run's parent MLflow run by the KFP run's uuid; this first task
    # creates it (so parallel tasks never race to), and nothing needs a tracking argument from the user
    run_id = dsl.PIPELINE_JOB_ID_PLACEHOLDER
    started = comp["start_pipeline_run"](
        params_json=params_json, tracking_json=tracking_json, pipeline_run_id=run_id
    )
    cpu_task(started.set_display_name("start MLflow run"), cluster)
    tracked = {"tracking_json": tracking_json, "pipeline_run_id": run_id}

    with dsl.ParallelFor(datasets) as dataset:
        snap = comp["ingest"](params_json=params_json, dataset=dataset, **tracked).after(started)
        cpu_task(snap.set_display_name("ingest"), cluster)
        val = comp["validate"](params_json=params_json, dataset=dataset, snapshot=snap.output, **tracked)
        cpu_task(val.set_display_name("validate"), cluster)
        if cluster.standardize_fanout:  # one pod per shard range, then a merge (same store bytes)
            ranges = comp["standardize_plan"](
                params_json=params_json,
                dataset=dataset,
                snapshot=snap.output,
                validation=val.outputs["Output"],
            )
            cpu_task(ranges.set_display_name("standardize: plan ranges"), cluster)
            with dsl.ParallelFor(ranges.output) as item:
                part = comp["standardize_range"](params_json=params_json, item=item)
                cpu_task(part.set_display_name("standardize: range"), cluster)
            std = comp["standardize_merge"](
                params_json=params_json,
                **tracked,
                dataset=dataset,
                snapshot=snap.output,
                validation=val.outputs["Output"],
                parts=dsl.Collected(part.output),
            )
            cpu_task(std.set_display_name("standardize: merge"), cluster)
        else:  # one task; its ranges run in a process pool (standardize.workers)
            std = comp["standardize"](
                params_json=params_json,
                **tracked,
                dataset=dataset,
                snapshot=snap.output,
                validation=val.outputs["Output"],
            )
            cpu_task(std.set_display_name("standardize"), cluster)
    # one dsl.Collected per consumer: kfp 2.17's compiler fails on a shared one
    encoders = {}
    for modality in modalities:
        if cluster.pytorchjob.enabled:  # multi-node: a CPU launcher pod creates and watches a PyTorchJob
            task = comp["pretrain_job"](
                params_json=cfg_json,
                **tracked,
                modality=modality,
                standardized=dsl.Collected(std.output),
            )
            cpu_task(task.set_display_name(f"pretrain {modality} (PyTorchJob)"), cluster)
        else:
            task = comp["pretrain"](
                params_json=cfg_json,
                **tracked,
                modality=modality,
                standardized=dsl.Collected(std.output),
            )
            gpu_task(task.set_display_name(f"pretrain {modality}"), cluster, gpu_count, gpu_type)
        encoders[modality] = task
    evaluations = {}
    for target in targets:
        fine = comp["finetune"](
            params_json=cfg_json,
            **tracked,
            target=target,
            pretrained=encoders[modality_of[target]].output,
            standardized=dsl.Collected(std.output),
        )
        gpu_task(fine.set_display_name(f"finetune {target}"), cluster, gpu_count, gpu_type)
        ev = comp["evaluate"](
            params_json=cfg_json,
            **tracked,
            target=target,
            model=fine.output,
            standardized=dsl.Collected(std.output),
        ).set_display_name(f"evaluate {target}")
        if cluster.evaluate_on_gpu:
            gpu_task(ev, cluster, gpu_count, gpu_type)
        else:
            cpu_task(ev, cluster)
        evaluations[target] = ev
    return evaluations


def build(params: Params):
    """The training pipeline function for ``params`` (defaults of its parameters come from them)."""
    d = ui_defaults(params)
    enabled = params.enabled_datasets()

    @dsl.pipeline(
        name=PIPELINE_NAME, description="CLIMB: ingest, validate, standardize, pretrain, finetune, evaluate"
    )
    def training(
        tracking_json: str = "",
        datasets: list = enabled,  # noqa: B006 - KFP reads the default as the UI default
        pretrain_epochs: int = d["pretrain_epochs"],
        finetune_epochs: int = d["finetune_epochs"],
        batch_size: int = d["batch_size"],
        gpu_count: int = d["gpu_count"],
        gpu_type: str = d["gpu_type"],
        overrides: dict = {},  # noqa: B006 - dotted params keys -> values, e.g. {"finetune.lr": 0.0005}
    ):
        # closes the parent MLflow run with the run's final state, also when a task failed (a climb run's
        # driver closes its own instead: it passes tracking_json)
        finish = images(params)["finish_pipeline_run"](
            params_json=params_constant(params),
            tracking_json=tracking_json,
            pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        )
        cpu_task(finish.set_display_name("finish MLflow run"), params.cluster)
        with dsl.ExitHandler(finish, name="tracked"):
            cfg = configure_task(
                params, pretrain_epochs, finetune_epochs, batch_size, overrides, gpu_count, gpu_type
            )
            # the data stages get the params constant (see training_steps), the training stages configure's output
            training_steps(
                params, params_constant(params), cfg.output, tracking_json, datasets, gpu_count, gpu_type
            )

    return training
