"""standardize: decode every record of a validated snapshot into the standardized store (DESIGN §3).

Records are processed in shard ranges of ``shard_size`` source records, so memory is bounded by one shard and the
output is the same whatever order/parallelism the ranges run in. A record that fails to decode or standardize is
quarantined with its rule and message, never silently dropped. The store is DVC-versioned and pushed.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from climbflow import modalities
from climbflow.catalog.base import RawRecord, RecordError
from climbflow.config import Params
from climbflow.progress import track
from climbflow.stages.base import StageFailed, StageResult, Workspace, fingerprint, read_report, run_cached
from climbflow.stages.common import open_spec, read_index, snapshot_files, snapshot_id, version
from climbflow.store.format import (
    LABELS,
    MANIFEST,
    MANIFEST_SCHEMA,
    QUARANTINE,
    QUARANTINE_SCHEMA,
    SHARDS,
    shard_name,
    write_json,
    write_table,
)
from climbflow.store.splits import patient_split

log = logging.getLogger(__name__)


def assign_split(record: RawRecord, has_official_test: bool, params: Params) -> str:
    """Official split if the dataset gives one, else a seeded hash of the patient id (patient-level)."""
    if record.split is not None:
        return record.split
    split = params.standardize.split
    test_fraction = 0.0 if has_official_test else split.test_fraction
    return patient_split(record.patient_id, params.seed, split.val_fraction, test_fraction)


def _float_or_none(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(out) else out


def run(params: Params, dataset: str, snapshot: str, validation: str, out: str | None = None) -> StageResult:
    verdict = read_report(validation)
    if not verdict.get("passed"):
        raise StageFailed(f"{dataset}: refusing to standardize, validation failed ({validation})")
    spec = open_spec(params, dataset)
    cfg = params.standardize
    modality = spec.modality
    sid = snapshot_id(snapshot)
    key = fingerprint(
        "standardize",
        sid,
        cfg.split.model_dump(),
        cfg.shard_size,
        getattr(cfg, modality).model_dump(),
        params.datasets[dataset].options,
        params.seed,
    )
    out = out or str(Workspace.from_params(params).stage_dir("standardized", dataset, key))
    shape = modalities.sample_shape(modality, cfg)
    dtype = modalities.STORAGE_DTYPE[modality]

    def build(tmp: Path) -> dict[str, Any]:
        root = snapshot_files(params, snapshot)
        records, rejected = read_index(spec, root)
        files_sha = _file_hashes(root)
        has_official_test = any(r.split == "test" for r in records)
        quarantine = [
            {"record_id": q.record_id, "source": q.source, "rule": q.rule, "message": q.message}
            for q in rejected
        ]
        manifest: list[dict[str, Any]] = []
        (tmp / SHARDS).mkdir()
        n_shards = 0
        ranges = range(0, len(records), cfg.shard_size)
        for k, start in enumerate(track(ranges, description=f"standardize {dataset}", total=len(ranges))):
            arrays = []
            for rec in records[start : start + cfg.shard_size]:
                try:
                    raw, props = spec.decode(root, rec)
                    arr = modalities.standardize(modality, raw, props, cfg)
                except RecordError as exc:
                    quarantine.append(
                        {
                            "record_id": rec.record_id,
                            "source": rec.files[0],
                            "rule": exc.rule,
                            "message": exc.message,
                        }
                    )
                    continue
                manifest.append(
                    {
                        "sample_id": f"{dataset}/{rec.record_id}",
                        "patient_id": rec.patient_id,
                        "dataset": dataset,
                        "modality": modality,
                        "split": assign_split(rec, has_official_test, params),
                        "source_labels": rec.source_labels,
                        "target": [float(v) for v in rec.target],
                        "source_uri": rec.files[0],
                        "source_sha256": files_sha.get(rec.files[0], ""),
                        "shard": k,
                        "offset": len(arrays),
                        "shape": list(shape),
                        "sampling_rate": modalities.target_sampling_rate(modality, cfg),
                        "orig_sampling_rate": _float_or_none(props.get("sampling_rate")),
                        "age": _float_or_none(rec.meta.get("age")),
                        "sex": rec.meta.get("sex"),
                    }
                )
                arrays.append(arr)
            if arrays:
                np.save(tmp / shard_name(k), np.stack(arrays).astype(dtype, copy=False))
                n_shards += 1
        if not manifest:
            raise StageFailed(
                f"{dataset}: every record was quarantined; see the validation report {validation}"
            )
        write_table(manifest, MANIFEST_SCHEMA, tmp / MANIFEST)
        write_table(quarantine, QUARANTINE_SCHEMA, tmp / QUARANTINE)
        labels = {
            "dataset": dataset,
            "modality": modality,
            "task": spec.task,
            "classes": list(spec.classes),
            "sample_shape": list(shape),
            "dtype": np.dtype(dtype).name,
            "official_split": spec.official_split,
        }
        write_json(labels, tmp / LABELS)
        splits = Counter(row["split"] for row in manifest)
        return {
            "stage": "standardize",
            "dataset": dataset,
            "modality": modality,
            "snapshot_id": sid,
            "n_samples": len(manifest),
            "n_quarantined": len(quarantine),
            "quarantined_by_rule": dict(sorted(Counter(q["rule"] for q in quarantine).items())),
            "splits": dict(sorted(splits.items())),
            "n_shards": n_shards,
            "n_patients": len({row["patient_id"] for row in manifest}),
        }

    result = run_cached("standardize", dataset, out, build)
    data_version = version(params, out)
    if data_version is not None:
        result.extra["data_version"] = data_version.to_dict()
    return result


def _file_hashes(files_root: Path) -> dict[str, str]:
    """sha256 per file from the snapshot's files.parquet (written by ingest)."""
    import pandas as pd

    frame = pd.read_parquet(files_root.parent / "files.parquet")
    return dict(zip(frame["path"], frame["sha256"], strict=False))


def labels_of(store: str) -> dict[str, Any]:
    return json.loads((Path(store) / LABELS).read_text())
