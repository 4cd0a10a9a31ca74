"""`climb`: the command line. Heavy libraries are imported inside commands so `climb --help` stays fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from climbflow.cli_common import DatasetsOpt, ParamsOpt, SetOpt, fail, load_params

app = typer.Typer(
    help="climbflow: CLIMB's clinical datasets and models as a reproducible pipeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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

    from climbflow.cli_registry import is_server, run_url, ui_base
    from climbflow.pipeline_runner import PipelineFailed, ensure_sample_data, run_local

    cfg = load_params(params, set_, datasets=datasets)
    ensure_sample_data(cfg)
    try:
        outcome = run_local(cfg, verbose=verbose)
    except PipelineFailed as exc:
        fail(f"pipeline failed: {exc}", code=1)
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
    page = run_url(ui_base(outcome.tracking_uri), outcome.parent_run_id, outcome.experiment_id)
    start = "" if is_server(outcome.tracking_uri) else "[bold]bin/climb ui[/bold], then "
    console.print(f"MLflow UI: {start}{page}", soft_wrap=True)  # one line: the link stays clickable


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

    cfg = load_params(params)
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
        fail(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
    cfg = load_params(params, set_)
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
        fail(f"climb stage {name}: missing {', '.join(missing)}")
    optional = {"ingest": ["source"]}.get(name, [])
    inputs = _collection_folders({k: given[k] for k in needs + optional + ["out"] if given[k] is not None})
    try:
        result = execute(name, cfg, **inputs)
    except StageFailed as exc:
        fail(str(exc), code=1)
    except (FileNotFoundError, ValueError, StorageUnavailable) as exc:
        fail(f"climb stage {name}: {exc}", code=1)
    typer.echo(
        json.dumps(
            {"uri": result.uri, "cache_hit": result.cache_hit, **result.extra, "report": result.report},
            indent=2,
            sort_keys=True,
            default=str,
        )
    )


def _collection_folders(inputs: dict) -> dict:
    """dvc.yaml's folder convention: ``--standardized data/standardized`` (a folder of stores, no labels.json of
    its own) means every store in it; ``--pretrained data/models/pretrain`` (a folder of encoders) means the one of
    the target's modality."""
    from climbflow import catalog
    from climbflow.store.format import LABELS

    def is_collection(path: str, marker: str) -> bool:
        return Path(path).is_dir() and not (Path(path) / marker).exists()

    out = dict(inputs)
    stores = out.get("standardized")
    if isinstance(stores, list):
        out["standardized"] = [
            str(child)
            for store in stores
            for child in (
                sorted(c for c in Path(store).iterdir() if (c / LABELS).exists())
                if is_collection(store, LABELS)
                else [store]
            )
        ]
    pretrained = out.get("pretrained")
    if pretrained and is_collection(pretrained, "report.json"):
        out["pretrained"] = str(Path(pretrained) / catalog.get(out["target"]).modality)
    return out


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

    cfg = load_params(
        params, resolve=False
    )  # paths stay as written: they are resolved where the pipeline runs
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

    cfg = load_params(params) if params.exists() else None
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

    cfg = load_params(params, set_, datasets=datasets)
    ensure_sample_data(cfg)
    try:
        result = run(cfg)
    except (StageFailed, *errors) as exc:
        fail(str(exc), code=1)
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
        fail(f"--strategy {unknown}: allowed {list(STRATEGIES)}")
    # fit_fusion raises ValueError for a cohort it cannot train on (no train admissions, missing stores)
    _report(params, set_, datasets, lambda cfg: run_fusion(cfg, chosen, out), markdown, errors=(ValueError,))


data_app = typer.Typer(
    help="Dataset versions in the DVC remote: list and pull them back.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


@data_app.command("versions")
def data_versions(dataset: str, params: ParamsOpt = Path("params.yaml")) -> None:
    """List every recorded version of DATASET (standardized stores and raw snapshots), newest first; piped, as
    tab-separated lines with the full DVC hash (`climb data pull DATASET@HASH` takes any unique prefix)."""
    from climbflow.stages.base import Workspace
    from climbflow.store.versioning import list_versions

    cfg = load_params(params)
    entries = list_versions(Workspace.from_params(cfg).local_root, dataset)
    if not entries:
        fail(f"no versions of {dataset!r} recorded in {cfg.workspace.root}; run `climb run` first", code=1)
    columns = ("version", "kind", "created", "files", "MB", "local", "remote")
    rows = [
        (
            e.md5,
            e.stage,
            e.created,
            str(e.nfiles),
            f"{e.size / 1e6:.1f}",
            "yes" if e.present else "no",
            e.remote,
        )
        for e in entries
    ]
    print_table(f"versions of {dataset}", columns, rows)


def print_table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A table on a terminal; piped or redirected, tab-separated lines, never truncated (scripts and files
    need every character of a hash)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        for row in [columns, *rows]:
            typer.echo("\t".join(row))
        return
    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


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
        fail(f"{spec!r}: expected DATASET@VERSION, e.g. ptbxl@3f2a9c or ptbxl@latest")
    dataset, version = spec.split("@", 1)
    cfg = load_params(params)
    ws = Workspace.from_params(cfg).local_root
    try:
        entry = find_version(ws, dataset, version)
        path = pull_version(ws, entry, dvc_remote(cfg), cfg.workspace.dvc_remote_endpoint)
    except (LookupError, RuntimeError) as exc:
        fail(str(exc), code=1)
    typer.echo(str(path))


doctor_app = typer.Typer(help="Self-checks: the bad-input corpus and the PHI re-check.", no_args_is_help=True)
app.add_typer(doctor_app, name="doctor")


LibraryLogOpt = Annotated[
    Path | None,
    typer.Option(help="write what the readers' libraries print (warnings, C-level messages) to this file"),
]


@doctor_app.command("bad-input")
def doctor_bad_input(
    out: Annotated[Path | None, typer.Option(help="keep the generated bad files here")] = None,
    library_log: LibraryLogOpt = None,
) -> None:
    """Run every reader on the bad-input corpus: prints caught / total per reader (exit 1 if any is missed)."""
    from climbflow.hardening import badinput
    from climbflow.logs import quiet_libraries

    with quiet_libraries(library_log):  # the corpus makes the readers' libraries complain, by design
        code = badinput.main(["--out", str(out)] if out else [])
    raise typer.Exit(code)


@doctor_app.command("phi")
def doctor_phi(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
    library_log: LibraryLogOpt = None,
) -> None:
    """Re-check DICOM de-identification on every DICOM fixture: surviving PHI values and tags removed."""
    from climbflow.hardening import phi_report
    from climbflow.logs import quiet_libraries

    with quiet_libraries(library_log):
        code = phi_report.main(["--json"] if as_json else [])
    raise typer.Exit(code)


def _register_subcommands() -> None:
    """Registry (models, promote, rollback, retrain, lineage) and cluster (submit, schedule, runs) commands."""
    from climbflow.cli_cluster import register as register_cluster
    from climbflow.cli_registry import register as register_registry

    register_registry(app)
    register_cluster(app)
    _unwrap_help(app)


def unwrap(text: str) -> str:
    """Help text with each paragraph on one line (typer keeps a docstring's line breaks, so a terminal wider
    or narrower than the source broke sentences mid-way); indented lines (lists, exit codes) stay as written."""
    import inspect

    out: list[str] = []
    for line in inspect.cleandoc(text).splitlines():
        prev = out[-1] if out else ""
        if line and not line[0].isspace() and prev and not prev[0].isspace() and not prev.endswith(":"):
            out[-1] = f"{prev} {line}"
        else:
            out.append(line)
    return "\n".join(out)


def _unwrap_help(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        text = info.help or (info.callback.__doc__ if info.callback else None)
        if text:
            info.help = unwrap(text)
    for group in typer_app.registered_groups:
        _unwrap_help(group.typer_instance)


_register_subcommands()


def main() -> None:
    app(prog_name="climb")


if __name__ == "__main__":
    sys.exit(main())
