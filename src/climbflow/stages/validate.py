"""validate: Great Expectations suites on an ingested snapshot's index and on a sample of decoded records.

Fails closed: when a rule breaks, the stage still publishes its evidence (validation.json, summary.md, Data Docs,
quarantine.parquet) and then raises :class:`StageFailed` with the human summary (the CLI exits non-zero).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from climbflow import modalities
from climbflow.catalog.base import CatalogError, Excluded, RawRecord, RecordError
from climbflow.config import Params
from climbflow.stages.base import StageFailed, StageResult, Workspace, fingerprint, read_report, run_cached
from climbflow.stages.common import name_source, open_spec, read_index, snapshot_files, snapshot_id
from climbflow.store.format import QUARANTINE_SCHEMA, write_table
from climbflow.store.splits import unit_hash


def expected_raw(modality: str) -> dict[str, Any]:
    """What a decoded raw record of ``modality`` must look like (the modality module's ``EXPECTED_RAW``)."""
    return dict(getattr(modalities.module(modality), "EXPECTED_RAW", {}))


def records_frame(
    records: list[RawRecord], splits: list[str | None] | None = None, sha: dict[str, str] | None = None
) -> pd.DataFrame:
    """One row per record; ``splits``: the split each record will get; ``sha``: file -> sha256 (ingest)."""
    rows = []
    for i, r in enumerate(records):
        t = np.asarray(r.target, dtype=float)
        known = t[~np.isnan(t)]
        rows.append(
            {
                "record_id": r.record_id,
                "patient_id": r.patient_id,
                "split": splits[i] if splits is not None else r.split,
                "n_files": len(r.files),
                "target_len": len(t),
                "target_min": float(known.min()) if known.size else math.nan,
                "target_max": float(known.max()) if known.size else math.nan,
                "target_nan_fraction": float(np.isnan(t).mean()) if t.size else 1.0,
                "n_positive": int((known == 1).sum()),
                "content_sha256": (sha or {}).get(r.files[0]) if r.files else None,
            }
        )
    return pd.DataFrame(rows)


def sample_frame(spec, root: Path, records: list[RawRecord], n: int, seed: int) -> pd.DataFrame:
    """Decode a deterministic sample of records; each row says whether decoding worked and what came out."""
    chosen = sorted(records, key=lambda r: unit_hash(seed, r.record_id))[:n]
    rows = []
    for r in chosen:
        row: dict[str, Any] = {"record_id": r.record_id, "ok": True, "rule": None, "message": None}
        try:
            arr, props = spec.decode(root, r)
            arr = np.asarray(arr)
            finite = bool(np.isfinite(arr).all()) if arr.size else False
            rate = props.get("sampling_rate")
            row.update(
                ndim=arr.ndim,
                dim0=int(arr.shape[0]) if arr.ndim else 0,
                dim1=int(arr.shape[1]) if arr.ndim > 1 else 0,
                sampling_rate=float(rate) if rate else math.nan,
                finite=finite,
                min=float(np.nanmin(arr)) if arr.size else math.nan,
                max=float(np.nanmax(arr)) if arr.size else math.nan,
            )
        except RecordError as exc:
            row.update(ok=False, rule=exc.rule, ndim=0, dim0=0, dim1=0, sampling_rate=math.nan, finite=False)
            row.update(min=math.nan, max=math.nan, message=exc.message)
        rows.append(row)
    return pd.DataFrame(rows)


def not_utf8(root: Path, source: str | None = None) -> str | None:
    """The first table (``*.csv``, ``*.tsv``) under ``root`` that is not UTF-8: its path (and the user's source
    path), line and byte; None if all decode."""
    for path in sorted(p for ext in ("*.csv", "*.tsv") for p in root.rglob(ext)):
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                rel = path.relative_to(root).as_posix()
                where = f"{path} (source: {source.rstrip('/')}/{rel})" if source else str(path)
                return (
                    f"{where}: line {number} is not UTF-8 (byte 0x{line[exc.start]:02x} at column "
                    f"{exc.start + 1}); re-save the file as UTF-8"
                )
    return None


def _nothing_readable(dataset: str, rejected: list, out: Path) -> dict[str, Any]:
    """The verdict when the index accepted no record: the rejections, most frequent rules first."""
    top = Counter(q.rule for q in rejected).most_common(3)
    reasons = ", ".join(f"{rule} ({n})" for rule, n in top) or "the index yielded no record"
    failure = f"no_readable_records: 0 of {len(rejected)} records readable; top reasons: {reasons}"
    examples = [f"- {q.rule}: {q.source}: {q.message}" for q in rejected[:5]]
    summary = "\n".join([f"# Validation of {dataset}: FAILED", "", f"- {failure}", "", *examples]) + "\n"
    (out / "summary.md").write_text(summary)
    return {"passed": False, "failures": [failure], "summary": summary}


def run(params: Params, dataset: str, snapshot: str, out: str | None = None) -> StageResult:
    spec = open_spec(params, dataset)
    cfg = params.validate_
    sid = snapshot_id(snapshot)
    key = fingerprint(
        "validate",
        sid,
        cfg.model_dump(),
        params.standardize.split.model_dump(),  # the splits validated are the ones standardize will assign
        params.dataset_options(dataset).model_dump(),
        spec.cache_token(),
        params.seed,
    )
    out = out or str(Workspace.from_params(params).stage_dir("validation", dataset, key))

    def build(tmp: Path) -> dict[str, Any]:
        base = {"stage": "validate", "dataset": dataset, "snapshot_id": sid}
        root = snapshot_files(params, snapshot)
        try:
            records, rejected = read_index(spec, root)
        except CatalogError as exc:
            failure = f"dataset_layout: {name_source(str(exc), root, snapshot)}"
        except UnicodeDecodeError as exc:
            failure = f"encoding: {not_utf8(root, read_report(snapshot).get('source_uri')) or exc}"
        else:
            failure = None
        if failure is not None:
            summary = f"# Validation of {dataset}: FAILED\n\n- {failure}\n"
            (tmp / "summary.md").write_text(summary)
            return base | {"passed": False, "failures": [failure], "summary": summary}
        quarantine = [
            {
                "record_id": q.record_id,
                "source": q.source,
                "rule": q.rule,
                "message": name_source(q.message, root, snapshot),
            }
            for q in rejected
        ]
        write_table(quarantine, QUARANTINE_SCHEMA, tmp / "quarantine.parquet")
        counts = {
            "n_records": len(records),
            "n_rejected": sum(not isinstance(q, Excluded) for q in rejected),
            "n_excluded": sum(isinstance(q, Excluded) for q in rejected),
            "rejected_by_rule": dict(sorted(Counter(q.rule for q in rejected).items())),
        }
        if not records:
            return base | counts | _nothing_readable(dataset, rejected, tmp)
        samples = sample_frame(spec, root, records, cfg.sample_records, params.seed)
        from climbflow.stages.common import file_hashes
        from climbflow.stages.standardize import assign_split
        from climbflow.validate.suites import label_table, validate_dataset

        has_test = any(r.split == "test" for r in records)
        splits = [assign_split(r, has_test, params) for r in records]
        frame = records_frame(records, splits, file_hashes(root))
        targets = np.array([r.target for r in records], dtype=float).reshape(len(records), len(spec.classes))
        result = validate_dataset(
            frame,
            samples,
            dataset=dataset,
            n_classes=len(spec.classes),
            allowed_splits=["train", "val", "test"],
            expected_sample=expected_raw(spec.modality),
            out_dir=tmp,
            max_quarantine_fraction=cfg.max_quarantine_fraction,
            n_rejected=sum(not isinstance(q, Excluded) for q in rejected),
            min_records=cfg.min_records,
            task=spec.task,
            labels=label_table(frame, spec.classes, targets),
            max_prevalence=cfg.max_prevalence,
            min_train_fraction=cfg.min_train_fraction,
        )
        return (
            base
            | counts
            | {
                "passed": result.passed,
                "failures": result.failures,
                "summary": result.summary_md,
                "n_sampled": len(samples),
                "data_docs": str(result.docs_index.relative_to(tmp)) if result.docs_index else None,
                "modality": spec.modality,
                "sample_shape": list(modalities.sample_shape(spec.modality, params.standardize)),
            }
        )

    result = run_cached("validate", dataset, out, build)
    if not result.report["passed"]:
        raise StageFailed(f"validation of {dataset} failed ({out}):\n{result.report['summary']}")
    return result
