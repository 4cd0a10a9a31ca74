"""Facts recorded on a registered model version for the promotion gate and lineage: the hash of the frozen test
split and the validation verdicts of the datasets behind the model (read from the pipeline run's ledger)."""

from __future__ import annotations

import hashlib

from climbflow.config import Params
from climbflow.store import uri as uris

VALIDATION_PASSED, VALIDATION_FAILED, VALIDATION_UNKNOWN = "passed", "failed", "unknown"


def split_hash(rows: list[tuple[str, str]]) -> str:
    """sha256 over the sorted ``(sample_id, source content sha256)`` pairs of a split."""
    h = hashlib.sha256()
    for sample_id, sha in sorted(rows):
        h.update(f"{sample_id}\t{sha}\n".encode())
    return h.hexdigest()


def test_split_hash(store: str) -> str:
    """The frozen-test-split hash of a standardized store (from its manifest: test sample ids + content sha256)."""
    from climbflow.store.format import StoreReader

    manifest = StoreReader(uris.local_copy(store)).manifest
    test = manifest[manifest["split"] == "test"]
    return split_hash(list(zip(test["sample_id"], test["source_sha256"].fillna(""), strict=True)))


test_split_hash.__test__ = False  # not a pytest test despite the name


def validation_verdicts(params: Params, pipeline_run_id: str, datasets: list[str]) -> dict[str, str]:
    """Per dataset: passed / failed / unknown (no validate entry in the pipeline run's ledger)."""
    from climbflow.stages import ledger

    found = {
        e["name"]: VALIDATION_PASSED if e["report"].get("passed") else VALIDATION_FAILED
        for e in ledger.read(params, pipeline_run_id)
        if e["stage"] == "validate"
    }
    return {ds: found.get(ds, VALIDATION_UNKNOWN) for ds in sorted(set(datasets))}


def overall_verdict(verdicts: dict[str, str]) -> str:
    """failed if any failed, unknown if any is unknown (or none recorded), else passed."""
    values = set(verdicts.values())
    if VALIDATION_FAILED in values:
        return VALIDATION_FAILED
    if not values or VALIDATION_UNKNOWN in values:
        return VALIDATION_UNKNOWN
    return VALIDATION_PASSED


class PairedUnavailable(RuntimeError):
    """The two versions could not be scored on the same test split (a model or store is not reachable here)."""


def _evaluation_report(mv) -> dict:
    """The evaluate stage's report of a model version (at its recorded ``climb.evaluation_uri``)."""
    from climbflow.stages.base import read_report

    uri = (mv.tags or {}).get("climb.evaluation_uri")
    if not uri:
        raise PairedUnavailable(f"version {mv.version}: no climb.evaluation_uri recorded")
    try:
        return read_report(uri)
    except Exception as exc:  # noqa: BLE001 - any unreadable report means: no paired comparison
        raise PairedUnavailable(
            f"version {mv.version}: evaluation report {uri} not readable ({type(exc).__name__})"
        ) from None


def _load_model(model: str, mv, report: dict):
    """The version's network: the finetune output it was evaluated from (the project's loader), else the model
    logged to the registry (``models:/MODEL/VERSION``)."""
    from climbflow.stages.base import read_report
    from climbflow.train.fit import load_model

    try:
        fine = read_report(report["model"])
        return load_model(uris.local_copy(report["model"]) / fine["model"])
    except Exception:  # noqa: BLE001 - fall back to the registry's copy
        pass
    try:
        import mlflow.pytorch

        return mlflow.pytorch.load_model(f"models:/{model}/{mv.version}", map_location="cpu").eval()
    except Exception as exc:  # noqa: BLE001
        raise PairedUnavailable(
            f"{model}/{mv.version}: model not loadable from {report.get('model')} nor the registry "
            f"({type(exc).__name__}: {str(exc)[:200]})"
        ) from None


def _patients(store: str, splits: tuple[str, ...]) -> dict[str, str]:
    """sample id -> patient id of the store's rows in ``splits``."""
    from climbflow.store.format import StoreReader

    manifest = StoreReader(uris.local_copy(store)).manifest
    rows = manifest[manifest["split"].isin(list(splits))]
    return dict(zip(rows["sample_id"], rows["patient_id"].astype(str), strict=True))


def paired_evidence(params: Params, model: str, challenger_mv, champion_mv, rescored: bool):
    """Score the challenger and the champion on the challenger's test split (same patients) and compare them with a
    paired patient-level bootstrap: a :class:`climbflow.registry.gate.Paired`.

    ``rescored``: the champion's recorded test split differs from the challenger's; then the champion's own
    training / validation patients are counted in the challenger's test split (``leaked_patients``, None when
    its store is not readable here). Raises :class:`PairedUnavailable` when a model or the store is not reachable.
    """
    from climbflow.evaluate.scoring import paired_comparison
    from climbflow.registry.gate import Paired
    from climbflow.train.fit import predict

    ch_report, cp_report = _evaluation_report(challenger_mv), _evaluation_report(champion_mv)
    store = ch_report.get("standardized")
    if not store:
        raise PairedUnavailable(
            f"version {challenger_mv.version}: no standardized store in its evaluation report"
        )
    net_a = _load_model(model, challenger_mv, ch_report)
    net_b = _load_model(model, champion_mv, cp_report)
    if list(net_a.classes) != list(net_b.classes) or net_a.task != net_b.task:
        raise PairedUnavailable(
            f"different outputs: challenger {net_a.task} {list(net_a.classes)[:8]}, "
            f"champion {net_b.task} {list(net_b.classes)[:8]}"
        )
    try:
        local = uris.local_copy(store)  # an s3:// store is downloaded once into this pod's scratch
        y_true, p_a, ids = predict(net_a, local, "test", params.finetune.batch_size)
        _, p_b, ids_b = predict(net_b, local, "test", params.finetune.batch_size)
        patient_of = _patients(store, ("test",))
    except Exception as exc:  # noqa: BLE001
        raise PairedUnavailable(
            f"test split of {store} not scorable here ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    if list(ids) != list(ids_b) or not len(ids):
        raise PairedUnavailable(f"no common test rows in {store}")
    patients = [patient_of[i] for i in ids]
    cmp = paired_comparison(
        y_true,
        p_a,
        p_b,
        patients,
        net_a.task,
        list(net_a.classes),
        params.evaluate.threshold,
        n_boot=params.promotion.bootstrap,
        seed=params.seed,
    )
    leaked: int | None = 0
    if rescored:
        try:
            trained_on = set(_patients(cp_report["standardized"], ("train", "val")).values())
            leaked = len(trained_on & set(patients))
        except Exception:  # noqa: BLE001 - unknown: the gate fails closed on it
            leaked = None
    return Paired(
        split_hash=test_split_hash(store)
        if rescored
        else (challenger_mv.tags or {}).get("climb.test_split_hash"),
        n_patients=cmp["n_patients"],
        challenger=cmp["a"],
        champion=cmp["b"],
        delta=cmp["delta"],
        per_class_auc_delta=cmp["per_class_auc_delta"],
        dropped_classes=cmp["dropped_classes"],
        champion_rescored=rescored,
        leaked_patients=leaked,
        n_boot=cmp["n_boot"],
    )
