"""What every `climb` command group shares: the --params / --set / --datasets options, loading the config, failing
with a message. The command groups (:mod:`climbflow.cli`, :mod:`climbflow.cli_registry`,
:mod:`climbflow.cli_cluster`) import this; :mod:`climbflow.cli` assembles them into one app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ParamsOpt = Annotated[Path, typer.Option("--params", "-p", help="the config file")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="override a key: --set pretrain.epochs=3")]
DatasetsOpt = Annotated[
    str | None,
    typer.Option(
        "--datasets",
        help="comma-separated datasets to run (enables them, makes them the targets), e.g. ptbxl,chapman",
    ),
]


def load_params(
    params: Path, overrides: list[str] | None = None, resolve: bool = True, datasets: str | None = None
):
    from climbflow.config import ConfigError, load, select_datasets
    from climbflow.logs import setup_logging
    from climbflow.pipeline_runner import resolve_paths

    setup_logging()
    pairs = {}
    for item in overrides or []:
        if "=" not in item:
            fail(f"--set {item!r}: expected KEY=VALUE, e.g. --set pretrain.epochs=3")
        key, value = item.split("=", 1)
        pairs[key] = value
    try:
        loaded = load(params, pairs)
        if datasets:
            loaded = select_datasets(loaded, [d.strip() for d in datasets.split(",") if d.strip()])
        return resolve_paths(loaded, params.resolve().parent) if resolve else loaded
    except ConfigError as exc:
        fail(str(exc))


def fail(message: str, code: int = 2):
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)
