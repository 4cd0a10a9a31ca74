"""Promotion and rollback of registered model versions (MLflow aliases, never stages).

``promote`` runs the gate (:mod:`climbflow.registry.gate`) on a version (default: ``@challenger``) against
``@champion``; both are scored on the challenger's test split (the champion re-scored there when its own test
split differed, e.g. new patients after a data change) and compared per patient with a paired bootstrap. If the
gate passes (or ``force`` with a ``reason``) ``@champion`` moves to the version and the old champion becomes
``@previous-champion``. Promoting the champion itself, or rolling back onto the same version, is refused as a bad
request (:class:`PromotionError`). Each promoted version records the champion it replaced
(``climb.promoted_over``), so ``rollback`` can walk back through the chain. Every decision is stored as version
tags (``climb.promotion.*``) and appended to the promotion history (:mod:`climbflow.registry.history`).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from climbflow.config import Params
from climbflow.registry import history
from climbflow.registry.gate import Evidence, Paired, Rule, broken, evaluate_gate

log = logging.getLogger(__name__)
CHAMPION, PREVIOUS, CHALLENGER = "champion", "previous-champion", "challenger"
PROMOTED_OVER = "climb.promoted_over"


@dataclass
class Decision:
    """One promotion or rollback decision: the rules with the numbers compared, who, when, why."""

    action: str  # promote | rollback
    model: str
    version: str | None
    passed: bool  # the gate's verdict (rollback: whether there was a version to roll back to)
    promoted: bool  # whether @champion moved
    forced: bool
    reason: str | None
    actor: str
    decided_at: str
    decided_at_us: int
    champion_before: str | None
    champion_after: str | None
    rules: list[Rule] = field(default_factory=list)
    message: str = ""
    history_run_id: str | None = None
    paired: dict[str, Any] | None = (
        None  # both versions on the challenger's test split (gate.Paired), if scored
    )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rules"] = [r.to_dict() for r in self.rules]
        return out


class PromotionError(ValueError):
    """The request itself is wrong (unknown model/version, --force without --reason)."""


def default_actor(actor: str | None = None) -> str:
    if actor:
        return actor
    if os.environ.get("CLIMB_ACTOR"):
        return os.environ["CLIMB_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _alias(client, model: str, alias: str) -> str | None:
    """The version an alias points at, as a string (a sqlite-backed registry returns ints)."""
    version = client.get_registered_model(model).aliases.get(alias)
    return None if version is None else str(version)


def _version(client, model: str, version: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(model, str(version))
    except MlflowException as exc:
        raise PromotionError(f"{model}/{version}: no such registered model version ({exc.message})") from None


def _registered(client, model: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(model)
    except MlflowException:
        names = sorted(m.name for m in client.search_registered_models())
        raise PromotionError(f"{model}: no such registered model; registered: {names}") from None


def _stamp() -> tuple[str, int]:
    when = history.now()
    return when.isoformat(), history.to_micros(when)


def _store(params: Params, client, decision: Decision) -> Decision:
    """Append to the history, then tag the version with the decision."""
    decision.history_run_id = history.record(params, decision.to_dict())
    if decision.version is not None:
        tags = {
            "climb.promotion.action": decision.action,
            "climb.promotion.passed": str(decision.passed).lower(),
            "climb.promotion.promoted": str(decision.promoted).lower(),
            "climb.promotion.forced": str(decision.forced).lower(),
            "climb.promotion.actor": decision.actor,
            "climb.promotion.reason": (decision.reason or "")[:1000],
            "climb.promotion.decided_at": decision.decided_at,
            "climb.promotion.message": decision.message[:4000],
            "climb.promotion.rules": json.dumps({r.name: r.passed for r in decision.rules}, sort_keys=True)[
                :4000
            ],
            "climb.promotion.history_run_id": decision.history_run_id,
        }
        primary = next((r for r in decision.rules if r.name == "primary_improvement" and r.delta), None)
        if primary is not None:
            d = primary.delta
            tags["climb.promotion.primary_gain"] = f"{d['estimate']:.6g} [{d['low']:.6g}, {d['high']:.6g}]"
        for key, value in tags.items():
            client.set_model_version_tag(decision.model, decision.version, key, value)
    log.info("%s", decision.message)
    return decision


def settle(rules: list[Rule], force: bool, reason: str | None) -> tuple[bool, bool, bool]:
    """(gate passed, champion moves, gate overridden) for the evaluated ``rules``.

    ``force`` overrides failed rules only with a non-empty ``reason`` (else :class:`PromotionError`), and never
    ``not_already_champion`` (promoting the champion onto itself would break the rollback chain).
    """
    if force and not (reason and reason.strip()):
        raise PromotionError("--force needs --reason: say why the gate is overridden (it is recorded)")
    failed = broken(rules)
    if not failed:
        return True, True, False
    movable = force and all(r.name != "not_already_champion" for r in failed)
    return False, movable, movable


def promote(
    params: Params,
    model: str,
    version: str | None = None,
    *,
    force: bool = False,
    reason: str | None = None,
    actor: str | None = None,
) -> Decision:
    """Run the gate on ``model/version`` (None = ``@challenger``) and move ``@champion`` if it passes or is forced.

    Raises :class:`PromotionError` for an unknown model/version or ``force`` without ``reason``.
    """
    from climbflow.registry.tracking import mlflow_client

    if force and not (reason and reason.strip()):
        raise PromotionError("--force needs --reason: say why the gate is overridden (it is recorded)")
    _, client = mlflow_client(params)
    _registered(client, model)
    if version is None:
        version = _alias(client, model, CHALLENGER)
        if version is None:
            raise PromotionError(f"{model}: no @{CHALLENGER} to promote; give --version")
    mv = _version(client, model, version)
    version = str(mv.version)
    champion_version = _alias(client, model, CHAMPION)
    decided_at, micros = _stamp()
    who = default_actor(actor)
    challenger = Evidence.from_tags(version, dict(mv.tags))
    if champion_version == version:
        raise PromotionError(
            f"{model}/{version} is already @{CHAMPION}: nothing to promote (promoting it again would make "
            f"@{PREVIOUS} equal @{CHAMPION}); to go back to an older version use `climb rollback`"
        )
    champion, paired, paired_error = None, None, None
    if champion_version:
        champion_mv = _version(client, model, champion_version)
        champion = Evidence.from_tags(champion_version, dict(champion_mv.tags))
        paired, paired_error = _paired(params, model, mv, champion_mv, challenger, champion)
    rules = evaluate_gate(params.promotion, challenger, champion, paired, paired_error)
    passed, can_move, forced = settle(rules, force, reason)
    failed = broken(rules)
    if can_move:
        client.set_model_version_tag(model, version, PROMOTED_OVER, champion_version or "")
        client.set_registered_model_alias(model, CHAMPION, version)
        if champion_version:
            client.set_registered_model_alias(model, PREVIOUS, champion_version)
    summary = "; ".join(f"{r.name}: {r.detail}" for r in failed)
    if passed:
        message = f"promoted {model}/{version} to @{CHAMPION} (previous: {champion_version or 'none'})"
    elif can_move:
        message = (
            f"FORCED {model}/{version} to @{CHAMPION} over the failed gate ({summary}) by {who}: {reason}"
        )
    else:
        message = f"refused {model}/{version}: {summary}"
    decision = Decision(
        action="promote",
        model=model,
        version=version,
        passed=passed,
        promoted=can_move,
        forced=forced,
        reason=reason,
        actor=who,
        decided_at=decided_at,
        decided_at_us=micros,
        champion_before=champion_version,
        champion_after=version if can_move else champion_version,
        rules=rules,
        message=message,
        paired=paired.to_dict() if paired is not None else None,
    )
    return _store(params, client, decision)


def _paired(
    params: Params, model: str, mv, champion_mv, challenger: Evidence, champion: Evidence
) -> tuple[Paired | None, str | None]:
    """Both versions scored on the challenger's test split, when the gate needs it: always for ``gate_on:
    lower_bound``, and for ``point`` when the recorded test splits differ. (None, why) when not possible."""
    from climbflow.registry.evidence import PairedUnavailable, paired_evidence

    cfg = params.promotion
    differs = not challenger.test_split_hash or challenger.test_split_hash != champion.test_split_hash
    if cfg.gate_on != "lower_bound" and not (differs and cfg.require_same_test_split):
        return None, None
    try:
        return paired_evidence(params, model, mv, champion_mv, rescored=differs), None
    except PairedUnavailable as exc:
        log.warning("%s: no paired comparison: %s", model, exc)
        return None, str(exc)


def rollback(params: Params, model: str, *, reason: str, actor: str | None = None) -> Decision:
    """Put ``@previous-champion`` back as ``@champion``; ``@previous-champion`` walks one step further back."""
    from climbflow.registry.tracking import mlflow_client

    if not (reason and reason.strip()):
        raise PromotionError("rollback needs --reason (it is recorded)")
    _, client = mlflow_client(params)
    _registered(client, model)
    current = _alias(client, model, CHAMPION)
    previous = _alias(client, model, PREVIOUS)
    decided_at, micros = _stamp()
    who = default_actor(actor)
    if previous is not None and previous == current:
        raise PromotionError(
            f"{model}: @{PREVIOUS} is the same version as @{CHAMPION} ({current}); rolling back would change "
            f"nothing. Promote the version you want with `climb promote {model} --version N --force --reason ...`"
        )
    if previous is None:
        rule = Rule("previous_champion_exists", False, f"{model} has no @{PREVIOUS} to roll back to")
        message = f"rollback of {model} refused: {rule.detail}"
        after = current
    else:
        rule = Rule("previous_champion_exists", True, f"@{PREVIOUS} is version {previous}", previous, current)
        client.set_registered_model_alias(model, CHAMPION, previous)
        older = str(_version(client, model, previous).tags.get(PROMOTED_OVER) or "") or None
        if older and older not in (previous, current):
            client.set_registered_model_alias(model, PREVIOUS, older)
        else:
            client.delete_registered_model_alias(model, PREVIOUS)
        message = f"rolled back {model}: @{CHAMPION} {current} -> {previous} by {who}: {reason}"
        after = previous
    decision = Decision(
        action="rollback",
        model=model,
        version=previous,
        passed=rule.passed,
        promoted=rule.passed,
        forced=False,
        reason=reason,
        actor=who,
        decided_at=decided_at,
        decided_at_us=micros,
        champion_before=current,
        champion_after=after,
        rules=[rule],
        message=message,
    )
    return _store(params, client, decision)


def champion_at(params: Params, model: str, when: datetime) -> str | None:
    """Which version of ``model`` was ``@champion`` at ``when`` (naive datetimes are UTC), from the history."""
    return history.champion_at(params, model, when)


__all__ = ["CHAMPION", "PREVIOUS", "Decision", "PromotionError", "champion_at", "promote", "rollback"]
