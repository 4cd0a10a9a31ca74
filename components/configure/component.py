"""KFP component `configure`: apply the pipeline parameters a user edits in the UI (epochs, batch size, GPU
count, dotted overrides such as promotion gate thresholds) to ``params_json`` (the params the pipeline was
compiled from, a constant of the compiled YAML); every later training / gate task reads its output."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def configure(
    params_json: str,
    pretrain_epochs: int,
    finetune_epochs: int,
    batch_size: int,
    overrides: dict,
    gpu_count: int,
) -> str:
    """The validated params JSON with the UI's parameters applied (a bad key or value fails the run).

    ``gpu_count`` is the GPU limit of the GPU pods: pretrain trains on that many devices (DDP when more than
    one; 0 = CPU, one process). Finetune trains on one device. ``overrides`` are applied last and win.
    """
    import json

    from climbflow.config import apply_override, parse

    data = json.loads(params_json)
    apply_override(data, "pretrain.epochs", pretrain_epochs)
    apply_override(data, "finetune.epochs", finetune_epochs)
    apply_override(data, "pretrain.batch_size", batch_size)
    apply_override(data, "finetune.batch_size", batch_size)
    apply_override(data, "pretrain.devices", max(int(gpu_count), 1))
    apply_override(data, "pretrain.strategy", "ddp" if gpu_count > 1 else "auto")
    for key, value in sorted((overrides or {}).items()):
        apply_override(data, key, value)
    return json.dumps(parse(data, origin="pipeline parameters").to_dict(), sort_keys=True)
