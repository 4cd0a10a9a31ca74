"""`climb submit / schedule / runs`: the Kubeflow Pipelines side of the CLI (kfp.Client, KFP v2beta1 REST API).

Credentials come from the environment only (``KFP_TOKEN``: a bearer token; ``KFP_COOKIES``: a session cookie
such as ``authservice_session=...`` of a multi-user Kubeflow behind Dex / oauth2-proxy; kfp's own
``KF_PIPELINES_*`` variables for IAP / OAuth), never from options, and are redacted from everything printed.
The pipeline YAML is compiled from ``--params`` at submit time (the same code as ``climb compile``), and
refused when its workspace or tracking would not be shared by the pods (:mod:`climbflow.cluster_checks`).

``--namespace`` / ``--service-account`` / ``--pipeline-root`` default to ``cluster.namespace`` /
``cluster.service_account`` / ``cluster.pipeline_root`` of the params; experiments are created in the
namespace. KFP's cache is off unless ``--enable-caching``: its key (inputs + image + command) cannot see new
data behind the same inputs; the stages cache themselves by content.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from climbflow.cli_common import ParamsOpt

TOKEN_ENV = "KFP_TOKEN"
COOKIES_ENV = "KFP_COOKIES"
HostOpt = Annotated[
    str, typer.Option("--host", help="Kubeflow Pipelines API endpoint, e.g. https://kf.example/pipeline")
]
PipelineOpt = Annotated[str, typer.Option("--pipeline", help="training | retraining | promotion")]
ExperimentOpt = Annotated[str, typer.Option("--experiment", help="KFP experiment (created if missing)")]
NamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--namespace", help="Kubeflow profile namespace (multi-user); default: cluster.namespace of --params"
    ),
]
ServiceAccountOpt = Annotated[
    str | None,
    typer.Option(
        "--service-account", help="service account of the run's pods; default: cluster.service_account"
    ),
]
PipelineRootOpt = Annotated[
    str | None,
    typer.Option("--pipeline-root", help="where KFP writes task outputs; default: cluster.pipeline_root"),
]
CachingOpt = Annotated[
    bool,
    typer.Option(
        "--enable-caching/--no-caching",
        help="KFP's task cache (default off: its key cannot see new data; the stages cache by content)",
    ),
]
ArgOpt = Annotated[
    list[str] | None,
    typer.Option("--param", help="pipeline parameter: --param pretrain_epochs=3 (YAML value)"),
]


def redact(text: str) -> str:
    """``text`` without the token / cookies from the environment and without ``user:password@`` in URLs."""
    for env in (TOKEN_ENV, COOKIES_ENV):
        secret = os.environ.get(env)
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1***@", text)


def _fail(message: str, code: int = 2):
    typer.secho(redact(message), fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def client(host: str, namespace: str | None = None):
    """A kfp.Client for ``host`` (its constructor checks the backend's healthz endpoint), authenticated by the
    bearer token of ``KFP_TOKEN`` and / or the session cookie(s) of ``KFP_COOKIES``."""
    import logging
    import warnings

    import kfp

    warnings.filterwarnings("ignore", category=FutureWarning, module="kfp")
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))
    try:
        kwargs: dict[str, Any] = {"namespace": namespace} if namespace else {}
        kfp_client = kfp.Client(
            host=host,
            existing_token=os.environ.get(TOKEN_ENV) or None,
            cookies=os.environ.get(COOKIES_ENV) or None,
            **kwargs,
        )
        multi_user = not namespace and kfp_client.get_kfp_healthz().multi_user
    except Exception as exc:  # connection refused, TLS, 401 ...: one line, no traceback, no token
        _fail(f"cannot reach Kubeflow Pipelines at {host}: {type(exc).__name__}: {exc}", code=1)
    if multi_user and not kfp_client.get_user_namespace():
        _fail(
            f"{host} is a multi-user Kubeflow Pipelines: set --namespace (or cluster.namespace in the params) "
            "to your profile's namespace"
        )
    return kfp_client


def parse_args(items: list[str] | None, spec: dict[str, Any]) -> dict[str, Any]:
    """``k=v`` pairs (values parsed as YAML) checked against the compiled pipeline's parameters."""
    import yaml

    allowed = spec["root"]["inputDefinitions"]["parameters"]
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            _fail(f"--param {item!r}: expected NAME=VALUE, e.g. --param pretrain_epochs=3")
        key, value = item.split("=", 1)
        if key not in allowed:
            _fail(f"--param {key}: not a parameter of this pipeline; parameters: {sorted(allowed)}")
        out[key] = value if allowed[key]["parameterType"] == "STRING" else yaml.safe_load(value)
    return out


def refuse_unshared(cfg: Any) -> None:
    """Exit 2 naming the keys to set when ``cfg``'s workspace / tracking would not be shared by the pods."""
    from climbflow.cluster_checks import cluster_problems, describe

    problems = cluster_problems(cfg)
    if problems:
        _fail(describe(problems))


def warn_unshared(cfg: Any) -> None:
    """``climb compile``: the check of submit / schedule as a warning (the goldens use a local workspace)."""
    from climbflow.cluster_checks import cluster_problems, describe

    problems = cluster_problems(cfg)
    if problems:
        typer.secho(
            redact(f"warning: {describe(problems)}\n  (`climb submit` / `climb schedule` refuse it)"),
            fg=typer.colors.YELLOW,
            err=True,
        )


def compiled(
    params: Path, pipeline: str, directory: Path, enable_caching: bool = False
) -> tuple[Path, dict[str, Any], Any]:
    """Compile ``pipeline`` from ``params`` into ``directory`` after refusing a configuration whose pods would
    not share the workspace / tracking; returns the file, its pipeline spec and the params."""
    import yaml

    from climbflow.config import ConfigError, load
    from climbflow.pipeline_runner import PIPELINES, compile_training

    if pipeline not in PIPELINES:
        _fail(f"--pipeline {pipeline!r}: pipelines: {', '.join(PIPELINES)}")
    try:
        cfg = load(params)
    except ConfigError as exc:
        _fail(str(exc))
    refuse_unshared(cfg)
    path = compile_training(cfg, directory / f"{pipeline}.yaml", pipeline)
    if enable_caching:
        from climbflow.pipeline_runner import enable_caching_everywhere

        enable_caching_everywhere(path)
    return path, next(yaml.safe_load_all(path.read_text())), cfg


def prepared(
    params: Path,
    pipeline: str,
    tmp: Path,
    enable_caching: bool,
    param: list[str] | None,
    namespace: str | None,
    host: str,
):
    """What submit and schedule both need: (compiled package, run arguments, config, namespace, kfp client)."""
    path, spec, cfg = compiled(params, pipeline, tmp, enable_caching)
    namespace = namespace or cfg.cluster.namespace
    return path, parse_args(param, spec), cfg, namespace, client(host, namespace)


def cron6(expr: str) -> str:
    """KFP wants 6-field cron (seconds first); a classic 5-field expression gets ``0`` seconds."""
    fields = expr.split()
    if len(fields) == 5:
        return "0 " + expr.strip()
    if len(fields) == 6:
        return expr.strip()
    _fail(f"--cron {expr!r}: expected 5 fields (m h dom mon dow) or 6 (s m h dom mon dow)")


def submit(
    host: HostOpt,
    params: ParamsOpt = Path("params.yaml"),
    pipeline: PipelineOpt = "training",
    experiment: ExperimentOpt = "climbflow",
    param: ArgOpt = None,
    run_name: Annotated[str | None, typer.Option("--run-name")] = None,
    namespace: NamespaceOpt = None,
    service_account: ServiceAccountOpt = None,
    pipeline_root: PipelineRootOpt = None,
    enable_caching: CachingOpt = False,
) -> None:
    """Submit one run of a pipeline to Kubeflow Pipelines."""
    with tempfile.TemporaryDirectory() as tmp:
        path, args, cfg, namespace, kfp = prepared(
            params, pipeline, Path(tmp), enable_caching, param, namespace, host
        )
        try:
            result = kfp.create_run_from_pipeline_package(
                str(path),
                arguments=args,
                run_name=run_name,
                experiment_name=experiment,
                namespace=namespace,
                pipeline_root=pipeline_root or cfg.cluster.pipeline_root,
                enable_caching=enable_caching,
                service_account=service_account or cfg.cluster.service_account,
            )
        except Exception as exc:
            _fail(f"submit failed: {type(exc).__name__}: {exc}", code=1)
    where = f"experiment {experiment}" + (f", namespace {namespace}" if namespace else "")
    typer.echo(redact(f"submitted {pipeline} run {result.run_id} ({where}) to {host}"))


def schedule(
    host: HostOpt,
    cron: Annotated[str, typer.Option("--cron", help='e.g. "0 3 * * 1" (KFP adds seconds: 6 fields)')],
    name: Annotated[str, typer.Option("--name", help="recurring run name (replaced if it exists)")] = (
        "climb-retraining-weekly"
    ),
    params: ParamsOpt = Path("params.yaml"),
    pipeline: PipelineOpt = "retraining",
    experiment: ExperimentOpt = "climbflow",
    param: ArgOpt = None,
    namespace: NamespaceOpt = None,
    service_account: ServiceAccountOpt = None,
    pipeline_root: PipelineRootOpt = None,
    enable_caching: CachingOpt = False,
) -> None:
    """Create (or replace: KFP cannot update one, so delete + create) a recurring run, idempotent by name."""
    cron_expr = cron6(cron)
    with tempfile.TemporaryDirectory() as tmp:
        path, args, cfg, namespace, kfp = prepared(
            params, pipeline, Path(tmp), enable_caching, param, namespace, host
        )
        try:
            exp = kfp.create_experiment(experiment, namespace=namespace)
            replaced = []
            token = ""
            while True:
                page = kfp.list_recurring_runs(
                    page_token=token, page_size=100, experiment_id=exp.experiment_id
                )
                for rr in page.recurring_runs or []:
                    if rr.display_name == name:
                        replaced.append(rr.recurring_run_id)
                token = page.next_page_token or ""
                if not token:
                    break
            for rr_id in replaced:
                kfp.delete_recurring_run(rr_id)
            created = kfp.create_recurring_run(
                experiment_id=exp.experiment_id,
                job_name=name,
                cron_expression=cron_expr,
                params=args,
                pipeline_package_path=str(path),
                max_concurrency=1,
                no_catchup=True,
                pipeline_root=pipeline_root or cfg.cluster.pipeline_root,
                enable_caching=enable_caching,
                service_account=service_account or cfg.cluster.service_account,
            )
        except Exception as exc:
            _fail(f"schedule failed: {type(exc).__name__}: {exc}", code=1)
    what = f"replaced {len(replaced)} and created" if replaced else "created"
    typer.echo(
        redact(f"{what} recurring run {name} ({created.recurring_run_id}) cron '{cron_expr}' on {host}")
    )


def runs(
    host: HostOpt,
    experiment: Annotated[str | None, typer.Option("--experiment", help="only this experiment")] = None,
    limit: Annotated[int, typer.Option(help="most recent N runs")] = 20,
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="Kubeflow profile namespace (multi-user)")
    ] = None,
) -> None:
    """List the most recent pipeline runs with their status."""
    from rich.console import Console
    from rich.table import Table

    kfp = client(host, namespace)
    try:
        exp_id = (
            kfp.get_experiment(experiment_name=experiment, namespace=namespace).experiment_id
            if experiment
            else None
        )
        page = kfp.list_runs(
            page_size=limit, sort_by="created_at desc", experiment_id=exp_id, namespace=namespace
        )
    except Exception as exc:
        _fail(f"runs failed: {type(exc).__name__}: {exc}", code=1)
    table = Table(title=redact(f"Kubeflow runs at {host}"))
    for col in ("run id", "name", "state", "created", "finished"):
        table.add_column(col)
    for run in page.runs or []:
        table.add_row(
            run.run_id or "",
            run.display_name or "",
            run.state or "",
            str(run.created_at or ""),
            str(run.finished_at or ""),
        )
    Console(width=160).print(table)


def register(app: typer.Typer) -> None:
    """Add ``submit``, ``schedule`` and ``runs`` to the ``climb`` app."""
    app.command()(submit)
    app.command()(schedule)
    app.command()(runs)
