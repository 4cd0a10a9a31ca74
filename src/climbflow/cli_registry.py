"""`climb models | promote | rollback | retrain | lineage`: the model registry commands (added by
:func:`register`). Heavy libraries are imported inside the commands so `climb --help` stays fast."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from climbflow.cli_common import ParamsOpt, SetOpt, fail, load_params

RETRAIN_HELP = """Retrain when the data changed, then run the promotion gate on each new challenger.

Compares the data version each dataset's current source gives (cached ingest -> validate -> standardize) with
the data versions recorded on each target's @champion (no champion yet: its @challenger). Trains only if any
changed (or --force), with the same pipeline as `climb run`, then promotes each new challenger through the gate.

Exit codes for schedulers (cron, systemd timers):
  0  no change (nothing to train, or nothing new came out of training)
  10 promoted (every new challenger passed the gate and is @champion)
  20 gated out (at least one new challenger was refused by the gate)
  1  failed (a stage, the pipeline or the registry failed; see the message and the run log)
"""


def _delta_text(delta: dict | None) -> str:
    """``+0.0312 [+0.0101, +0.0533]`` (gain, positive = better) or '' when the rule has no paired CI."""
    if not delta:
        return ""
    text = f"{delta['estimate']:+.4f} [{delta['low']:+.4f}, {delta['high']:+.4f}]"
    if delta.get("n_boot"):
        text += f" ({delta.get('n_valid')}/{delta['n_boot']} valid)"
    return text


def _print_decision(decision) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=max(Console().width, 130))
    table = Table(title=f"{decision.action} {decision.model}/{decision.version}")
    for col in ("rule", "result", "gain Δ [95% CI]", "compared"):
        table.add_column(col)
    for rule in decision.rules:
        table.add_row(
            rule.name,
            "[green]pass[/green]" if rule.passed else "[red]FAIL[/red]",
            escape(_delta_text(rule.delta)),
            escape(rule.detail),
        )
    console.print(table)
    paired = getattr(decision, "paired", None)
    if paired:
        how = (
            "champion re-scored on the challenger's test split"
            if paired.get("champion_rescored")
            else ("both scored on the shared test split")
        )
        console.print(
            f"paired comparison: {how}, {paired['n_patients']} patients, {paired['n_boot']} bootstrap replicates"
        )
    colour = "green" if decision.promoted and decision.passed else "yellow" if decision.promoted else "red"
    console.print(f"[{colour}]{decision.message}[/{colour}]")
    console.print(
        f"recorded by {decision.actor} at {decision.decided_at} (history run {decision.history_run_id})"
    )


def models(
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    at: Annotated[
        str | None, typer.Option(help="also show which version was @champion at this time (ISO, UTC)")
    ] = None,
) -> None:
    """Registered models: versions, aliases, key metrics, validation, data version, last gate decision."""
    from rich.console import Console
    from rich.table import Table

    from climbflow.registry.gate import primary_metric
    from climbflow.registry.promotion import champion_at
    from climbflow.registry.tracking import mlflow_client

    cfg = load_params(params, set_)
    when = _parse_time(at) if at else None
    _, client = mlflow_client(cfg)
    registered = sorted(client.search_registered_models(), key=lambda m: m.name)
    if not registered:
        fail("no registered models yet; `climb run` registers one per target", code=1)
    table = Table(title="registered models")
    for col in ("model", "version", "aliases", "metric", "value", "validation", "data version", "gate"):
        table.add_column(col)
    for rm in registered:
        by_version: dict[str, list[str]] = {}
        for alias, version in rm.aliases.items():
            by_version.setdefault(str(version), []).append(alias)
        versions = sorted(
            client.search_model_versions(f"name = '{rm.name}'"),
            key=lambda v: int(v.version),
            reverse=True,
        )
        for mv in versions:
            tags = mv.tags
            metric = primary_metric(cfg.promotion, tags.get("climb.task", "unknown"))
            gate = tags.get("climb.promotion.passed")
            table.add_row(
                rm.name,
                str(mv.version),
                " ".join(f"@{a}" for a in sorted(by_version.get(str(mv.version), []))),
                metric,
                tags.get(f"climb.metric.{metric}", ""),
                tags.get("climb.validation", ""),
                tags.get("climb.data_version", "")[:12],
                {"true": "passed", "false": "refused"}.get(gate or "", ""),
            )
    console = Console(width=max(Console().width, 130))
    console.print(table)
    if when is not None:
        for rm in registered:
            version = champion_at(cfg, rm.name, when)
            held = f"version {version}" if version else "none (no version was @champion then)"
            console.print(f"{rm.name}: @champion at {when.isoformat()}: {held}")


def promote(
    model: Annotated[str, typer.Argument(help="registered model, e.g. climb-ptbxl")],
    version: Annotated[str | None, typer.Option(help="version to promote (default: @challenger)")] = None,
    force: Annotated[bool, typer.Option(help="override a failed gate (needs --reason; recorded)")] = False,
    reason: Annotated[str | None, typer.Option(help="why (required with --force; recorded)")] = None,
    actor: Annotated[str | None, typer.Option(help="who (default: $CLIMB_ACTOR or the OS user)")] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the decision as JSON")] = False,
) -> None:
    """Run the promotion gate on MODEL's @challenger (or --version) and move @champion if it passes.

    The table shows each rule with the gain Δ (challenger - champion, positive = better) and its paired
    patient-bootstrap 95% CI, both models scored on the challenger's test split.

    Exit codes: 0 promoted, 20 refused by the gate, 2 bad request (--force without --reason, the version is
    already @champion), 1 error.
    """
    from climbflow.registry.promotion import PromotionError
    from climbflow.registry.promotion import promote as run_gate

    cfg = load_params(params, set_)
    try:
        decision = run_gate(cfg, model, version, force=force, reason=reason, actor=actor)
    except PromotionError as exc:
        fail(str(exc), code=2)
    if as_json:
        typer.echo(json.dumps(decision.to_dict(), indent=2, default=str))
    else:
        _print_decision(decision)
    raise typer.Exit(0 if decision.promoted else 20)


def rollback(
    model: Annotated[str, typer.Argument(help="registered model, e.g. climb-ptbxl")],
    reason: Annotated[str, typer.Option(help="why (recorded)")],
    actor: Annotated[str | None, typer.Option(help="who (default: $CLIMB_ACTOR or the OS user)")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Put @previous-champion back as @champion (recorded).

    Exit 0 done, 1 nothing to roll back to, 2 bad request (e.g. @previous-champion is @champion).
    """
    from climbflow.registry.promotion import PromotionError
    from climbflow.registry.promotion import rollback as do_rollback

    cfg = load_params(params)
    try:
        decision = do_rollback(cfg, model, reason=reason, actor=actor)
    except PromotionError as exc:
        fail(str(exc), code=2)
    _print_decision(decision)
    raise typer.Exit(0 if decision.promoted else 1)


def retrain(
    force: Annotated[bool, typer.Option(help="train even if no data version changed")] = False,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the outcome as JSON")] = False,
) -> None:
    from rich.console import Console
    from rich.table import Table

    from climbflow.retraining import retrain as do_retrain

    cfg = load_params(params, set_)
    outcome = do_retrain(cfg, force=force)
    if as_json:
        typer.echo(json.dumps(outcome.to_dict(), indent=2, default=str))
        raise typer.Exit(outcome.code)
    console = Console(width=max(Console().width, 130))
    if outcome.plan is not None:
        table = Table(title="retraining plan" + (" (forced)" if force else ""))
        for col in ("target", "compared with", "dataset", "current", "recorded", "status"):
            table.add_column(col)
        for t in outcome.plan.targets:
            ref = f"@{t.reference} v{t.version}" if t.reference else "nothing registered"
            for ds, row in t.datasets.items():
                table.add_row(
                    t.target,
                    ref,
                    ds,
                    (row["current"] or "")[:12],
                    (row["recorded"] or "")[:12],
                    row["status"],
                )
        console.print(table)
    for d in outcome.decisions:
        console.print(d["message"])
    if outcome.error:
        typer.secho(f"retrain failed: {outcome.error}", fg=typer.colors.RED, err=True)
    console.print(f"retrain: {outcome.status} (exit {outcome.code})")
    raise typer.Exit(outcome.code)


def ui(
    port: Annotated[int, typer.Option(help="port of the UI")] = 5000,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Open the MLflow UI on this workspace's runs and models; prints the URL of the latest `climb run`.

    Starts `mlflow server` on the workspace's tracking store with this environment's Python (`mlflow` need
    not be on PATH) until Ctrl-C. With a tracking server configured (workspace.tracking_uri,
    $MLFLOW_TRACKING_URI) it only prints the URLs on that server.
    """
    import subprocess
    import sys

    from climbflow.registry.tracking import tracking_uri

    cfg = load_params(params)
    store = tracking_uri(cfg)
    base = ui_base(store, host, port)
    latest = latest_run_url(cfg, base)
    typer.echo(f"MLflow UI: {base}")
    typer.echo(f"latest climb run: {latest}" if latest else "no climb run recorded yet (`bin/climb run`)")
    if is_server(store):
        return
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store]
    command += ["--host", host, "--port", str(port)]
    typer.echo("Ctrl-C stops it", err=True)
    try:
        raise typer.Exit(subprocess.call(command))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def lineage(
    refs: Annotated[
        list[str],
        typer.Argument(
            help="REF (MODEL@ALIAS or MODEL/VERSION), or: diff REF_A REF_B", metavar="REF | diff A B"
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", "-f", help="tree | json | html")] = "tree",
    out: Annotated[Path | None, typer.Option(help="write to this file instead of the terminal")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Where a model version came from, from recorded facts only; `climb lineage diff A B` compares two.

    Tree: model version -> evaluate / finetune / pretrain runs -> pipeline run (git commit, image, params)
    -> per dataset: data version (DVC hash, remote) -> validation verdict and Data Docs -> raw snapshot
    (source URI, file count, sha256 manifest). Links that were not recorded show as MISSING.
    """
    from rich.console import Console

    from climbflow.registry import lineage as lin

    if fmt not in ("tree", "json", "html"):
        fail(f"--format {fmt!r}: expected tree, json or html")
    cfg = load_params(params)
    try:
        if refs[0] == "diff":
            if len(refs) != 3:
                fail("usage: climb lineage diff MODEL/VERSION_A MODEL/VERSION_B")
            result = lin.diff(cfg, refs[1], refs[2])
            text = json.dumps(result, indent=2, default=str) if fmt != "tree" else _diff_text(result)
        else:
            if len(refs) != 1:
                fail("usage: climb lineage MODEL@ALIAS | MODEL/VERSION (or: climb lineage diff A B)")
            tree = lin.lineage(cfg, refs[0])
            if fmt == "tree" and out is None:
                Console(width=max(Console().width, 140)).print(lin.to_rich(tree))
                return
            if fmt == "tree":
                console = Console(record=True, width=140, file=io.StringIO())
                console.print(lin.to_rich(tree))
                text = console.export_text()
            else:
                text = lin.to_json(tree) if fmt == "json" else lin.to_html(tree)
    except (LookupError, ValueError) as exc:
        fail(str(exc), code=1)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        typer.echo(f"wrote {out}")
    else:
        typer.echo(text)


def register(app: typer.Typer) -> None:
    """Add the registry commands to the `climb` app."""
    app.command()(models)
    app.command()(promote)
    app.command()(rollback)
    app.command(help=RETRAIN_HELP)(retrain)
    app.command()(ui)
    app.command()(lineage)


def is_server(store: str) -> bool:
    """The tracking store is an MLflow server (which serves its own UI), not a database `climb ui` opens."""
    return store.startswith(("http://", "https://"))


def ui_base(store: str, host: str = "127.0.0.1", port: int = 5000) -> str:
    """Where the MLflow UI of tracking store ``store`` is: the tracking server itself (credentials redacted),
    else what `climb ui` starts on this machine."""
    from climbflow.store.uri import redact

    return redact(store).rstrip("/") if is_server(store) else f"http://{host}:{port}"


def run_url(base: str, run_id: str, experiment_id: str | None = None) -> str:
    """The MLflow UI page of one run; with its experiment, in the UI's "Model training" view (MLflow 3.17 opens
    GenAI views unless the URL or the user's toggle says otherwise, whatever the experiment's kind tag)."""
    if experiment_id is None:
        return f"{base}/#/runs/{run_id}"
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"


def latest_run_url(cfg, base: str) -> str | None:
    """The UI page of the newest pipeline run (a parent run: no ``mlflow.parentRunId``), or None."""
    from climbflow.registry.tracking import experiment_id, mlflow_client

    _, client = mlflow_client(cfg)
    runs = client.search_runs([experiment_id(cfg)], order_by=["attributes.start_time DESC"], max_results=200)
    parent = next((r for r in runs if "mlflow.parentRunId" not in r.data.tags), None)
    return run_url(base, parent.info.run_id, parent.info.experiment_id) if parent else None


def _diff_text(result: dict) -> str:
    lines = [f"lineage diff {result['a']} -> {result['b']}"]
    for section, rows in result.items():
        if section in ("a", "b"):
            continue
        if not rows:
            lines.append(f"{section}: same")
            continue
        lines.append(f"{section}:")
        lines += [f"  {key}: {row['a']} -> {row['b']}" for key, row in rows.items()]
    return "\n".join(lines)


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: expected an ISO date/time, e.g. 2025-06-01 or 2025-06-01T12:00"
        ) from None
