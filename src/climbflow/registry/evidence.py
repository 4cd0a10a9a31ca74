"""Facts recorded on a registered model version for the promotion gate and lineage: the hash of the frozen test
split and the validation verdicts of the datasets behind the model (read from the pipeline run's ledger)."""

from __future__ import annotations

import hashlib
from pathlib import Path

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
