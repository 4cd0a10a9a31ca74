"""The promotion history: one MLflow run per decision in the experiment ``climb-promotions`` (tags for search,
params for the UI, the decision JSON as artifact). It answers "which version was champion at time T", which
the registry alone cannot (aliases only say what is champion now)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from climbflow.config import Params

EXPERIMENT = "climb-promotions"


def _experiment(params: Params) -> str:
    from climbflow.registry.tracking import artifact_location, mlflow_client

    _, client = mlflow_client(params)
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(EXPERIMENT, artifact_location=artifact_location(params))


def to_micros(when: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(round(when.timestamp() * 1_000_000))


def record(params: Params, decision: dict[str, Any]) -> str:
    """Append one decision (``Decision.to_dict()``) to the history; returns the MLflow run id."""
    from climbflow.registry.tracking import mlflow_client

    mlflow, client = mlflow_client(params)
    micros = int(decision["decided_at_us"])
    tags = {
        "climb.model": decision["model"],
        "climb.version": str(decision["version"] or ""),
        "climb.action": decision["action"],
        "climb.passed": str(decision["passed"]).lower(),
        "climb.promoted": str(decision["promoted"]).lower(),
        "climb.forced": str(decision["forced"]).lower(),
        "climb.champion_before": str(decision["champion_before"] or ""),
        "climb.champion_after": str(decision["champion_after"] or ""),
        "climb.decided_at": decision["decided_at"],
        "climb.decided_at_us": str(micros),
        "climb.actor": decision["actor"],
        "mlflow.note.content": decision["message"][:4000],
    }
    run = client.create_run(
        _experiment(params),
        start_time=micros // 1000,
        run_name=f"{decision['action']} {decision['model']}/{decision['version']}",
        tags=tags,
    )
    run_id = run.info.run_id
    flat = {
        "action": decision["action"],
        "model": decision["model"],
        "version": str(decision["version"]),
        "actor": decision["actor"],
        "reason": (decision.get("reason") or "")[:500],
        "forced": str(decision["forced"]),
    }
    client.log_batch(run_id, params=[mlflow.entities.Param(k, v) for k, v in flat.items()])
    client.log_metric(run_id, "passed", 1.0 if decision["passed"] else 0.0, timestamp=micros // 1000)
    client.log_text(run_id, json.dumps(decision, indent=2, sort_keys=True, default=str), "decision.json")
    client.set_terminated(run_id, status="FINISHED", end_time=micros // 1000)
    return run_id


def decisions(params: Params, model: str) -> list[dict[str, str]]:
    """Every recorded decision of ``model`` (their tags), oldest first."""
    from climbflow.registry.tracking import mlflow_client

    _, client = mlflow_client(params)
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        return []
    rows, token = [], None
    while True:
        page = client.search_runs(
            [exp.experiment_id],
            filter_string=f"tags.`climb.model` = '{model}'",
            max_results=1000,
            page_token=token,
        )
        rows += [dict(r.data.tags) | {"run_id": r.info.run_id} for r in page]
        token = page.token
        if not token:
            break
    return sorted(rows, key=lambda t: int(t.get("climb.decided_at_us", "0")))


def champion_at(params: Params, model: str, when: datetime) -> str | None:
    """The version that was champion of ``model`` at ``when`` (naive = UTC), per the recorded decisions."""
    cutoff = to_micros(when)
    current = None
    for tags in decisions(params, model):
        if int(tags["climb.decided_at_us"]) > cutoff:
            break
        current = tags.get("climb.champion_after") or None
    return current


def now() -> datetime:
    return datetime.now(UTC)
