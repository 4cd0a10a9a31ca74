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
    gpu_type: str,
) -> str:
    """The validated params JSON with the run's parameters applied (a bad key or value fails the run):
    :func:`climbflow.config.apply_run_parameters`."""
    import json

    from climbflow.config import apply_run_parameters

    params = apply_run_parameters(
        json.loads(params_json),
        pretrain_epochs=pretrain_epochs,
        finetune_epochs=finetune_epochs,
        batch_size=batch_size,
        gpu_count=gpu_count,
        gpu_type=gpu_type,
        overrides=overrides,
    )
    return json.dumps(params.to_dict(), sort_keys=True)
