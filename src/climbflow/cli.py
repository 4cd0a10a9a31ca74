"""`climb`: the command line. Heavy libraries are imported inside commands so `climb --help` stays fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="climbflow: CLIMB's clinical datasets and models as a reproducible pipeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ParamsOpt = Annotated[Path, typer.Option("--params", "-p", help="the config file")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="override a key: --set pretrain.epochs=3")]
DatasetsOpt = Annotated[
    str | None,
    typer.Option(
        "--datasets",
        help="comma-separated datasets to run (enables them, makes them the targets), e.g. ptbxl,chapman",
    ),
]


def _load(
    params: Path, overrides: list[str] | None = None, resolve: bool = True, datasets: str | None = None
):
    from climbflow.config import ConfigError, load, select_datasets
    from climbflow.logs import setup_logging
    from climbflow.pipeline_runner import resolve_paths

    setup_logging()
    pairs = {}
    for item in overrides or []:
        if "=" not in item:
            _fail(f"--set {item!r}: expected KEY=VALUE, e.g. --set pretrain.epochs=3")
        key, value = item.split("=", 1)
        pairs[key] = value
    try:
        loaded = load(params, pairs)
        if datasets:
            loaded = select_datasets(loaded, [d.strip() for d in datasets.split(",") if d.strip()])
        return resolve_paths(loaded, params.resolve().parent) if resolve else loaded
    except ConfigError as exc:
        _fail(str(exc))


def _fail(message: str, code: int = 2):
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@app.command()
def run(
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    datasets: DatasetsOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="stream every task's full log")] = False,
) -> None:
    """The main job: run the training pipeline end to end on this machine (kfp.local, MLflow sqlite, DVC)."""
    from rich.console import Console
    from rich.table import Table

    from climbflow.pipeline_runner import PipelineFailed, ensure_sample_data, run_local
    from climbflow.registry.tracking import tracking_uri
    from climbflow.store.uri import redact

    cfg = _load(params, set_, datasets=datasets)
    ensure_sample_data(cfg)
    try:
        outcome = run_local(cfg, verbose=verbose)
    except PipelineFailed as exc:
        _fail(f"pipeline failed: {exc}", code=1)
    console = Console(width=max(Console().width, 130))
    table = Table(title=f"climb run {outcome.pipeline_run_id} ({outcome.seconds:.0f} s)")
    for col in (
        "target",
        "metric",
        "value [95% CI]",
        "other metrics",
        "n test",
        "data version",
        "model",
        "cached",
        "quality",
    ):
        table.add_column(col)
    for row in outcome.results:
        table.add_row(*_result_cells(row))
    console.print(table)
    console.print(f"log: {outcome.log_path}")
    console.print(
        f"MLflow UI: [bold]mlflow ui --backend-store-uri {redact(tracking_uri(cfg))} --port 5000[/bold]"
    )


def _result_cells(row: dict) -> list[str]:
    """One results-table row: primary metric with its CI, then the other headline metrics, then the quality flag
    (CI entirely below chance, spanning chance, too few test patients: :mod:`climbflow.evaluate.quality`)."""
    from climbflow.evaluate.quality import BELOW_CHANCE, OK, assess
    from climbflow.evaluate.scoring import headline, primary_metric

    m, task = row["metrics"], row.get("task", "multilabel")
    primary = primary_metric(task)
    ci = row.get("ci", {}).get(primary)
    value = f"{m.get(primary, float('nan')):.3f}"
    if ci:
        value += f" [{ci['low']:.3f}, {ci['high']:.3f}]"
    others = " ".join(f"{k}={m[k]:.3f}" for k in headline(task) if k != primary and k in m)
    model = row["model"]
    quality = assess(task, m, row.get("ci"))
    flag = {BELOW_CHANCE: "[bold red]BELOW CHANCE[/bold red]", OK: "[green]ok[/green]"}.get(
        quality["verdict"], "[yellow]uncertain[/yellow]"
    )
    if quality["reasons"]:
        from rich.markup import escape

        flag += ": " + escape("; ".join(quality["reasons"]))
    return [
        row["target"],
        primary,
        value,
        others,
        str(int(m.get("n_test", 0))),
        row["data_version"][:12],
        model,
        "yes" if row["cache_hit"] else "",
        flag,
    ]


@app.command("sample-data")
def sample_data(
    params: ParamsOpt = Path("params.yaml"),
    out: Annotated[Path | None, typer.Option(help="write here instead of the configured sources")] = None,
    records: Annotated[int | None, typer.Option(help="records per dataset")] = None,
    shuffle_labels: Annotated[bool, typer.Option(help="negative control: permute labels")] = False,
    dataset: Annotated[list[str] | None, typer.Option(help="only these datasets")] = None,
) -> None:
    """Write small deterministic copies of the datasets in their real layouts."""
    from climbflow import sampledata

    cfg = _load(params)
    for name in dataset or [d for d in cfg.enabled_datasets() if d in sampledata.WRITERS]:
        dest = out / name if out else Path(cfg.datasets[name].source)
        n = records or cfg.sample_data.records.get(name, 200)
        sampledata.write(
            name, dest, n, seed=cfg.seed, shuffle_labels=shuffle_labels or cfg.sample_data.shuffle_labels
        )
        typer.echo(f"{name}: {n} records -> {dest}")


@app.command()
def stage(
    name: Annotated[
        str, typer.Argument(help="ingest | validate | standardize | pretrain | finetune | evaluate")
    ],
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    dataset: Annotated[str | None, typer.Option(help="dataset (ingest/validate/standardize)")] = None,
    source: Annotated[str | None, typer.Option(help="raw source folder or s3:// prefix (ingest)")] = None,
    snapshot: Annotated[str | None, typer.Option(help="ingested snapshot (validate/standardize)")] = None,
    validation: Annotated[str | None, typer.Option(help="validation output (standardize)")] = None,
    modality: Annotated[str | None, typer.Option(help="modality (pretrain)")] = None,
    standardized: Annotated[list[str] | None, typer.Option(help="standardized store(s)")] = None,
    pretrained: Annotated[str | None, typer.Option(help="pretrain output (finetune)")] = None,
    model: Annotated[str | None, typer.Option(help="finetune output (evaluate)")] = None,
    target: Annotated[str | None, typer.Option(help="target dataset (finetune/evaluate)")] = None,
    out: Annotated[
        str | None, typer.Option(help="output location (default: content-addressed in workspace)")
    ] = None,
) -> None:
    """Run one stage (what dvc.yaml and the container entrypoint call). Prints the stage report as JSON."""
    from climbflow.stages import STAGES, StageFailed, execute
    from climbflow.store.retry import StorageUnavailable

    if name not in STAGES:
        _fail(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
    cfg = _load(params, set_)
    given = {
        "dataset": dataset,
        "source": source,
        "snapshot": snapshot,
        "validation": validation,
        "modality": modality,
        "standardized": standardized,
        "pretrained": pretrained,
        "model": model,
        "target": target,
        "out": out,
    }
    needs = {
        "ingest": ["dataset"],
        "validate": ["dataset", "snapshot"],
        "standardize": ["dataset", "snapshot", "validation"],
        "pretrain": ["modality", "standardized"],
        "finetune": ["target", "pretrained", "standardized"],
        "evaluate": ["target", "model", "standardized"],
    }[name]
    missing = [f"--{k}" for k in needs if not given[k]]
    if missing:
        _fail(f"climb stage {name}: missing {', '.join(missing)}")
    optional = {"ingest": ["source"]}.get(name, [])
    inputs = {k: given[k] for k in needs + optional + ["out"] if given[k] is not None}
    try:
        result = execute(name, cfg, **inputs)
    except StageFailed as exc:
        _fail(str(exc), code=1)
    except (FileNotFoundError, ValueError, StorageUnavailable) as exc:
        _fail(f"climb stage {name}: {exc}", code=1)
    typer.echo(
        json.dumps(
            {"uri": result.uri, "cache_hit": result.cache_hit, **result.extra, "report": result.report},
            indent=2,
            sort_keys=True,
            default=str,
        )
    )


@app.command("compile")
def compile_(
    params: ParamsOpt = Path("params.yaml"),
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="folder for <pipeline>.yaml (upload them in the Kubeflow UI)")
    ] = Path("pipelines/compiled"),
) -> None:
    """Compile the training, retraining and promotion pipelines to YAML (upload them in the Kubeflow UI)."""
    from climbflow.cli_cluster import warn_unshared
    from climbflow.pipeline_runner import compile_all

    cfg = _load(params, resolve=False)  # paths stay as written: they are resolved where the pipeline runs
    warn_unshared(cfg)
    for path in compile_all(cfg, out_dir):
        typer.echo(str(path))


@app.command()
def datasets(
    params: ParamsOpt = Path("params.yaml"),
    layout: Annotated[bool, typer.Option(help="also show the expected on-disk layout")] = False,
) -> None:
    """List the dataset catalog: modality, task, label space, access terms, and whether a local copy is found."""
    from rich.console import Console
    from rich.table import Table

    from climbflow import catalog
    from climbflow.catalog.discovery import local_copy

    cfg = _load(params) if params.exists() else None
    table = Table(title="climbflow catalog", show_lines=layout)
    for col in ("name", "modality", "task", "classes", "split", "access", "local copy"):
        table.add_column(col, overflow="fold")
    if layout:
        table.add_column("expected layout", overflow="fold")
    for name in catalog.names():
        spec = catalog.get(name)
        found = local_copy(name, cfg)
        row = [
            name,
            spec.modality,
            spec.task,
            ", ".join(spec.classes),
            "official" if spec.official_split else "patient hash",
            spec.license,
            found or "[dim]not found[/dim]",
        ]
        table.add_row(*(row + ([spec.layout] if layout else [])))
    Console(width=max(Console().width, 160)).print(table)


report_app = typer.Typer(
    help="Experiment reports (CLIMB's tables), reproducible by one command.", no_args_is_help=True
)
app.add_typer(report_app, name="report")


def _report(params: Path, set_, datasets: str | None, run, markdown, errors: tuple = ()) -> None:
    """Load params, write missing sample data, run one experiment, print its Markdown table and folder."""
    from climbflow.pipeline_runner import ensure_sample_data
    from climbflow.stages import StageFailed

    cfg = _load(params, set_, datasets=datasets)
    ensure_sample_data(cfg)
    try:
        result = run(cfg)
    except (StageFailed, *errors) as exc:
        _fail(str(exc), code=1)
    typer.echo(markdown(result))
    typer.echo(f"report: {result['out_dir']}")


@report_app.command("compare")
def report_compare(
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="report folder (default <workspace>/reports/compare)")
    ] = None,
    bootstrap: Annotated[
        int | None, typer.Option(help="bootstrap replicates (default evaluate.bootstrap)")
    ] = None,
    datasets: DatasetsOpt = None,
) -> None:
    """Multi-task vs single-task pretraining per target dataset, with paired bootstrap 95% CIs."""
    from climbflow.experiments.compare import markdown, run_compare

    _report(params, set_, datasets, lambda cfg: run_compare(cfg, out, bootstrap), markdown)


@report_app.command("fewshot")
def report_fewshot(
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    k: Annotated[
        list[int] | None, typer.Option("--k", help="shots per label combination (repeatable)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="report folder (default <workspace>/reports/fewshot)")
    ] = None,
    datasets: DatasetsOpt = None,
) -> None:
    """Few-shot finetuning (k = 1, 8, 32 by default) of the multi-task pretrained encoder, per target."""
    from climbflow.experiments.fewshot import markdown, run_fewshot

    _report(params, set_, datasets, lambda cfg: run_fewshot(cfg, k or [1, 8, 32], out), markdown)


@report_app.command("fusion")
def report_fusion(
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    strategy: Annotated[
        list[str] | None,
        typer.Option(help="late | concat | cross_attention | gated (repeatable; default all)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="report folder (default <workspace>/reports/fusion)")
    ] = None,
    datasets: DatasetsOpt = "mimic4,mimic4_cxr,mimic4_ecg",
) -> None:
    """Fusion strategies on MIMIC-IV admissions (EHR + text + chest X-ray + ECG, any may be missing)."""
    from climbflow.experiments.fusion import STRATEGIES, markdown, run_fusion

    chosen = strategy or list(STRATEGIES)
    unknown = sorted(set(chosen) - set(STRATEGIES))
    if unknown:
        _fail(f"--strategy {unknown}: allowed {list(STRATEGIES)}")
    # fit_fusion raises ValueError for a cohort it cannot train on (no train admissions, missing stores)
    _report(params, set_, datasets, lambda cfg: run_fusion(cfg, chosen, out), markdown, errors=(ValueError,))


data_app = typer.Typer(
    help="Dataset versions in the DVC remote: list and pull them back.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


@data_app.command("versions")
def data_versions(dataset: str, params: ParamsOpt = Path("params.yaml")) -> None:
    """List every recorded version of DATASET (standardized stores and raw snapshots), newest first."""
    from rich.console import Console
    from rich.table import Table

    from climbflow.stages.base import Workspace
    from climbflow.store.versioning import list_versions

    cfg = _load(params)
    entries = list_versions(Workspace.from_params(cfg).local_root, dataset)
    if not entries:
        _fail(f"no versions of {dataset!r} recorded in {cfg.workspace.root}; run `climb run` first", code=1)
    table = Table(title=f"versions of {dataset}")
    for col in ("version", "kind", "created", "files", "MB", "local", "remote"):
        table.add_column(col)
    for e in entries:
        table.add_row(
            e.md5[:12],
            e.stage,
            e.created,
            str(e.nfiles),
            f"{e.size / 1e6:.1f}",
            "yes" if e.present else "no",
            e.remote,
        )
    Console().print(table)


@data_app.command("pull")
def data_pull(
    spec: Annotated[str, typer.Argument(help="DATASET@VERSION (hash prefix or 'latest')")],
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Restore a dataset version from the DVC remote into the workspace; prints its path."""
    from climbflow.stages.base import Workspace
    from climbflow.stages.common import dvc_remote
    from climbflow.store.versioning import find_version, pull_version

    if "@" not in spec:
        _fail(f"{spec!r}: expected DATASET@VERSION, e.g. ptbxl@3f2a9c or ptbxl@latest")
    dataset, version = spec.split("@", 1)
    cfg = _load(params)
    ws = Workspace.from_params(cfg).local_root
    try:
        entry = find_version(ws, dataset, version)
        path = pull_version(ws, entry, dvc_remote(cfg), cfg.workspace.dvc_remote_endpoint)
    except (LookupError, RuntimeError) as exc:
        _fail(str(exc), code=1)
    typer.echo(str(path))


doctor_app = typer.Typer(help="Self-checks: the bad-input corpus and the PHI re-check.", no_args_is_help=True)
app.add_typer(doctor_app, name="doctor")


@doctor_app.command("bad-input")
def doctor_bad_input(
    out: Annotated[Path | None, typer.Option(help="keep the generated bad files here")] = None,
) -> None:
    """Run every reader on the bad-input corpus: prints caught / total per reader (exit 1 if any is missed)."""
    from climbflow.hardening import badinput

    raise typer.Exit(badinput.main(["--out", str(out)] if out else []))


@doctor_app.command("phi")
def doctor_phi(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Re-check DICOM de-identification on every DICOM fixture: surviving PHI values and tags removed."""
    from climbflow.hardening import phi_report

    raise typer.Exit(phi_report.main(["--json"] if as_json else []))


def _register_subcommands() -> None:
    """Registry (models, promote, rollback, retrain, lineage) and cluster (submit, schedule, runs) commands."""
    from climbflow.cli_cluster import register as register_cluster
    from climbflow.cli_registry import register as register_registry

    register_registry(app)
    register_cluster(app)


_register_subcommands()


def main() -> None:
    app(prog_name="climb")


if __name__ == "__main__":
    sys.exit(main())
