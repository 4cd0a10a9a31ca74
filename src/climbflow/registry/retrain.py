"""Data-triggered retraining, the decision: has a data version the models would be trained on changed?

:func:`plan` runs the (cached) ingest -> validate -> standardize stages on the current sources to learn the data
version each dataset would have now, and compares them with the data versions recorded on each target's
``@champion`` (or, with no champion yet, its ``@challenger``). The loop that acts on the plan (train, gate) is
:mod:`climbflow.retraining`; the retraining pipeline's ``plan`` task calls :func:`plan` itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from climbflow.config import Params


@dataclass
class TargetPlan:
    target: str
    model: str
    reference: str | None  # "champion" | "challenger" | None (nothing registered)
    version: str | None
    datasets: dict[str, dict[str, str | None]]  # dataset -> {current, recorded, status}
    changed: bool
    why: str


@dataclass
class RetrainPlan:
    changed: bool
    force: bool
    current: dict[str, str]  # dataset -> data version the current sources give
    targets: list[TargetPlan] = field(default_factory=list)

    @property
    def changed_targets(self) -> list[str]:
        return [t.target for t in self.targets if t.changed]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"changed_targets": self.changed_targets}


def current_versions(params: Params) -> dict[str, str]:
    """The data version (DVC hash of the standardized store) each enabled dataset's current source gives."""
    from climbflow.stages import execute
    from climbflow.stages.common import store_version

    out = {}
    for dataset in params.enabled_datasets():
        snap = execute("ingest", params, dataset=dataset)
        val = execute("validate", params, dataset=dataset, snapshot=snap.uri)
        std = execute("standardize", params, dataset=dataset, snapshot=snap.uri, validation=val.uri)
        out[dataset] = std.extra.get("data_version", {}).get("md5") or store_version(std.uri)
    return out


def recorded_versions(tags: dict[str, str]) -> dict[str, str]:
    """Data versions recorded on a model version (``climb.data_version.<dataset>``)."""
    return {
        k.removeprefix("climb.data_version."): v
        for k, v in tags.items()
        if k.startswith("climb.data_version.")
    }


def training_datasets(params: Params, target: str) -> list[str]:
    """The datasets a target's model is trained on: the target and the pretrain datasets of its modality."""
    from climbflow import catalog

    modality = catalog.get(target).modality
    pretrained = modality in params.pretrain.modalities
    return sorted(
        {target}
        | {d for d in params.enabled_datasets() if pretrained and catalog.get(d).modality == modality}
    )


def compare(current: dict[str, str], recorded: dict[str, str], datasets: list[str]) -> dict[str, dict]:
    rows: dict[str, dict[str, str | None]] = {}
    for ds in sorted(set(datasets) | set(recorded)):
        now, then = current.get(ds) if ds in datasets else None, recorded.get(ds)
        status = (
            "unchanged"
            if now == then
            else "added"
            if then is None
            else "removed"
            if now is None
            else "changed"
        )
        rows[ds] = {"current": now, "recorded": then, "status": status}
    return rows


def plan(params: Params, force: bool = False) -> RetrainPlan:
    """Compare the data versions the current sources give with those recorded on each target's model."""
    from mlflow.exceptions import MlflowException

    from climbflow.registry.promotion import CHALLENGER, CHAMPION
    from climbflow.registry.tracking import mlflow_client, model_name

    current = current_versions(params)
    _, client = mlflow_client(params)
    targets = []
    for target in params.finetune.targets:
        if target not in params.enabled_datasets():
            continue
        model = model_name(target)
        reference, mv = None, None
        for alias in (CHAMPION, CHALLENGER):
            try:
                mv = client.get_model_version_by_alias(model, alias)
                reference = alias
                break
            except MlflowException:
                continue
        datasets = training_datasets(params, target)
        if mv is None:
            rows = compare(current, {}, datasets)
            targets.append(TargetPlan(target, model, None, None, rows, True, "no registered model version"))
            continue
        recorded = recorded_versions(dict(mv.tags)) or {target: mv.tags.get("climb.data_version", "")}
        rows = compare(current, recorded, datasets)
        moved = [f"{ds} {r['status']}" for ds, r in rows.items() if r["status"] != "unchanged"]
        why = ", ".join(moved) if moved else f"same data versions as @{reference} (version {mv.version})"
        targets.append(TargetPlan(target, model, reference, str(mv.version), rows, bool(moved), why))
    changed = force or any(t.changed for t in targets)
    return RetrainPlan(changed, force, current, targets)
