"""standardize: decode every record of a validated snapshot into the standardized store (DESIGN §3).

The index is cut into shard ranges of ``shard_size`` source records. Each range is standardized on its own
(:func:`write_range`: one shard file, streamed with one sample in memory, plus its manifest and quarantine
part) and the parts are merged in range order (:func:`merge_ranges`), so the store is byte-identical whatever
the parallelism: a process pool here (``standardize.workers``), a KFP ``ParallelFor`` on a cluster.
A record that fails to decode or standardize is quarantined with its rule and message, never dropped.
Fails closed like validate: when more than ``validate.max_quarantine_fraction`` of the records were quarantined
the store is written (the evidence) but not versioned, and :class:`StageFailed` names the top rules. A split
left with a single class is reported (``single_class_splits``). The store is DVC-versioned and pushed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from climbflow import modalities
from climbflow.catalog.base import DatasetSpec, Excluded, RawRecord, RecordError
from climbflow.config import Params
from climbflow.progress import track
from climbflow.stages.base import StageFailed, StageResult, Workspace, fingerprint, read_report, run_cached
from climbflow.stages.common import (
    file_hashes,
    name_source,
    open_spec,
    read_index,
    snapshot_files,
    snapshot_id,
    version,
)
from climbflow.store.faults import fault_point
from climbflow.store.format import (
    LABELS,
    MANIFEST,
    MANIFEST_SCHEMA,
    QUARANTINE,
    QUARANTINE_SCHEMA,
    SHARDS,
    shard_name,
    write_json,
    write_npy_stream,
    write_table,
)
from climbflow.store.splits import patient_split

log = logging.getLogger(__name__)
PARTS = "parts"  # per-range manifest/quarantine parts, merged then removed


def assign_split(record: RawRecord, has_official_test: bool, params: Params) -> str:
    """Official split if the dataset gives one, else a seeded hash of the patient (its salt-free split key,
    else its id; see :mod:`climbflow.store.splits`)."""
    if record.split is not None:
        return record.split
    split = params.standardize.split
    test_fraction = 0.0 if has_official_test else split.test_fraction
    key = record.split_key or record.patient_id
    return patient_split(key, params.seed, split.val_fraction, test_fraction)


def _float_or_none(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(out) else out


@dataclass
class Plan:
    """What every range of one standardize run shares (cheap to rebuild in a worker process)."""

    params: Params
    dataset: str
    snapshot: str
    spec: DatasetSpec
    root: Path
    records: list[RawRecord]
    rejected: list[Any]
    has_official_test: bool

    @classmethod
    def build(cls, params: Params, dataset: str, snapshot: str) -> Plan:
        spec = open_spec(params, dataset)
        if spec.modality == "image2d":  # images are decoded no larger than needed (e.g. JPEG DCT scaling)
            spec.decode_size = params.standardize.image2d.size
        root = snapshot_files(params, snapshot)
        records, rejected = read_index(spec, root)
        has_test = any(r.split == "test" for r in records)
        return cls(params, dataset, snapshot, spec, root, records, rejected, has_test)

    @property
    def n_ranges(self) -> int:
        size = self.params.standardize.shard_size
        return (len(self.records) + size - 1) // size

    @cached_property
    def files_sha(self) -> dict[str, str]:
        """sha256 per snapshot file (from ingest's files.parquet), read once per plan."""
        return file_hashes(self.root)

    def range_records(self, k: int) -> list[RawRecord]:
        size = self.params.standardize.shard_size
        return self.records[k * size : (k + 1) * size]


def write_range(plan: Plan, k: int, out: Path) -> dict[str, int]:
    """Standardize range ``k`` into ``out``: ``shards/shard-k.npy`` + ``parts/{manifest,quarantine}-k.parquet``."""
    params, cfg = plan.params, plan.params.standardize
    modality = plan.spec.modality
    shape = modalities.sample_shape(modality, cfg)
    files_sha = plan.files_sha
    rate = modalities.target_sampling_rate(modality, cfg)
    manifest: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []

    def samples() -> Iterator[np.ndarray]:
        for rec in plan.range_records(k):
            fault_point("standardize.sample")  # test-only crash hook, inert by default
            try:
                raw, props = plan.spec.decode(plan.root, rec)
                arr = modalities.standardize(modality, raw, props, cfg)
            except RecordError as exc:
                quarantine.append(
                    {
                        "record_id": rec.record_id,
                        "source": rec.files[0],
                        "rule": exc.rule,
                        "message": name_source(exc.message, plan.root, plan.snapshot),
                    }
                )
                continue
            extra = {k2: v for k2, v in rec.meta.items() if k2 not in ("age", "sex")}
            extra.update(props.get("meta") or {})
            manifest.append(
                {
                    "sample_id": f"{plan.dataset}/{rec.record_id}",
                    "patient_id": rec.patient_id,
                    "dataset": plan.dataset,
                    "modality": modality,
                    "split": assign_split(rec, plan.has_official_test, params),
                    "source_labels": rec.source_labels,
                    "target": [float(v) for v in rec.target],
                    "source_uri": rec.files[0],
                    "source_sha256": files_sha.get(rec.files[0], ""),
                    "shard": k,
                    "offset": len(manifest),
                    "shape": list(shape),
                    "sampling_rate": rate,
                    "orig_sampling_rate": _float_or_none(props.get("sampling_rate")),
                    "age": _float_or_none(rec.meta.get("age")),
                    "sex": rec.meta.get("sex"),
                    "meta": json.dumps(extra, sort_keys=True, default=str),
                }
            )
            yield arr

    (out / SHARDS).mkdir(parents=True, exist_ok=True)
    (out / PARTS).mkdir(parents=True, exist_ok=True)
    n = write_npy_stream(out / shard_name(k), samples(), shape, modalities.storage_dtype(modality))
    write_table(manifest, MANIFEST_SCHEMA, out / PARTS / f"manifest-{k:05d}.parquet")
    write_table(quarantine, QUARANTINE_SCHEMA, out / PARTS / f"quarantine-{k:05d}.parquet")
    return {"range": k, "n_samples": n, "n_quarantined": len(quarantine)}


def merge_ranges(plan: Plan, part_dirs: list[Path], out: Path) -> dict[str, Any]:
    """Merge range outputs (one dir locally; one per KFP task on a cluster) into the store at ``out``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    found: dict[int, Path] = {}
    for d in part_dirs:
        for part in sorted((Path(d) / PARTS).glob("manifest-*.parquet")):
            found[int(part.stem.split("-")[1])] = Path(d)
    missing = sorted(set(range(plan.n_ranges)) - set(found))
    if missing:
        raise StageFailed(f"{plan.dataset}: standardize ranges {missing} have no output")
    (out / SHARDS).mkdir(parents=True, exist_ok=True)
    manifests, quarantines = [], []
    for k in range(plan.n_ranges):
        src = found[k]
        manifests.append(pq.read_table(src / PARTS / f"manifest-{k:05d}.parquet"))
        quarantines.append(pq.read_table(src / PARTS / f"quarantine-{k:05d}.parquet"))
        shard = src / shard_name(k)
        if shard.exists() and src.resolve() != out.resolve():
            shutil.copyfile(shard, out / shard_name(k))
    shutil.rmtree(out / PARTS, ignore_errors=True)
    manifest = pa.concat_tables(manifests).cast(MANIFEST_SCHEMA).to_pylist()
    quarantine = [
        {
            "record_id": q.record_id,
            "source": q.source,
            "rule": q.rule,
            "message": name_source(q.message, plan.root, plan.snapshot),
        }
        for q in plan.rejected
    ] + pa.concat_tables(quarantines).cast(QUARANTINE_SCHEMA).to_pylist()
    if not manifest:
        raise StageFailed(f"{plan.dataset}: every record was quarantined; see the validation report")
    write_table(manifest, MANIFEST_SCHEMA, out / MANIFEST)
    write_table(quarantine, QUARANTINE_SCHEMA, out / QUARANTINE)
    spec, cfg = plan.spec, plan.params.standardize
    labels = {
        "dataset": plan.dataset,
        "modality": spec.modality,
        "task": spec.task,
        "classes": list(spec.classes),
        "sample_shape": list(modalities.sample_shape(spec.modality, cfg)),
        "dtype": modalities.storage_dtype(spec.modality).name,
        "official_split": spec.official_split,
    }
    write_json(labels, out / LABELS)
    splits = Counter(row["split"] for row in manifest)
    n_excluded = sum(isinstance(q, Excluded) for q in plan.rejected)
    n_bad = len(quarantine) - n_excluded
    return {
        "stage": "standardize",
        "dataset": plan.dataset,
        "modality": spec.modality,
        "snapshot_id": snapshot_id(plan.snapshot),
        "n_samples": len(manifest),
        "n_quarantined": len(quarantine),
        "quarantined_by_rule": dict(sorted(Counter(q["rule"] for q in quarantine).items())),
        "n_excluded": n_excluded,
        "quarantine_fraction": round(n_bad / (n_bad + len(manifest)), 6),
        "splits": dict(sorted(splits.items())),
        "single_class_splits": single_class_splits(manifest, spec),
        "n_shards": len({row["shard"] for row in manifest}),
        "n_patients": len({row["patient_id"] for row in manifest}),
    }


def single_class_splits(manifest: list[dict[str, Any]], spec: DatasetSpec) -> dict[str, list[str]]:
    """Splits of a classification store whose known labels show fewer than two classes: split -> classes seen."""
    if spec.task == "regression":
        return {}
    seen: dict[str, set[str]] = {}
    for row in manifest:
        t = np.asarray(row["target"], dtype=float)
        if len(spec.classes) == 1:  # binary, one column: the classes are its values
            found = {f"{spec.classes[0]}={int(v)}" for v in t[~np.isnan(t)]}
        else:
            found = {spec.classes[i] for i in np.flatnonzero(t == 1)}
        seen.setdefault(row["split"], set()).update(found)
    return {split: sorted(classes) for split, classes in sorted(seen.items()) if len(classes) < 2}


def check_report(params: Params, report: dict[str, Any], where: str) -> None:
    """Fail closed when too many records were quarantined; warn about single-class splits."""
    dataset, limit = report["dataset"], params.validate_.max_quarantine_fraction
    single = report.get("single_class_splits") or {}
    for split, classes in single.items():
        log.warning("standardize %s: split %r holds a single class %s", dataset, split, classes or "(none)")
    fraction = report.get("quarantine_fraction", 0.0)
    if fraction > limit:
        rules = Counter(report["quarantined_by_rule"]).most_common(3)
        top = ", ".join(f"{rule} ({n})" for rule, n in rules)
        splits = f"; single-class splits: {single}" if single else ""
        raise StageFailed(
            f"standardize {dataset}: quarantine_fraction {fraction:.1%} > max {limit:.1%} "
            f"({report['n_quarantined']} of {report['n_quarantined'] + report['n_samples']} records; "
            f"top rules: {top}){splits}; the store at {where} is not versioned"
        )


def output_key(params: Params, dataset: str, snapshot: str) -> str:
    cfg = params.standardize
    spec = open_spec(params, dataset)
    modality = spec.modality
    return fingerprint(
        "standardize",
        snapshot_id(snapshot),
        cfg.split.model_dump(),
        cfg.shard_size,
        getattr(cfg, modality).model_dump(),
        params.dataset_options(dataset).model_dump(),
        spec.cache_token(),
        params.seed,
    )


def _worker(args: tuple[Params, str, str, int, str]) -> dict[str, int]:
    params, dataset, snapshot, k, out = args
    return write_range(Plan.build(params, dataset, snapshot), k, Path(out))


def _records_done(part: dict[str, int]) -> int:
    return part["n_samples"] + part["n_quarantined"]


def _workers(params: Params, n_ranges: int) -> int:
    wanted = params.standardize.workers or min(4, os.cpu_count() or 1)
    return max(1, min(wanted, n_ranges))


def run(params: Params, dataset: str, snapshot: str, validation: str, out: str | None = None) -> StageResult:
    verdict = read_report(validation)
    if not verdict.get("passed"):
        raise StageFailed(f"{dataset}: refusing to standardize, validation failed ({validation})")
    key = output_key(params, dataset, snapshot)
    out = out or str(Workspace.from_params(params).stage_dir("standardized", dataset, key))

    def build(tmp: Path) -> dict[str, Any]:
        plan = Plan.build(params, dataset, snapshot)
        workers = _workers(params, plan.n_ranges)
        with contextlib.ExitStack() as stack:
            if workers == 1:
                results = (write_range(plan, k, tmp) for k in range(plan.n_ranges))
            else:
                jobs = [(params, dataset, snapshot, k, str(tmp)) for k in range(plan.n_ranges)]
                pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=get_context("spawn")))
                results = pool.map(_worker, jobs)
            n_records = len(plan.records)
            for _ in track(results, f"standardize {dataset}", n_records, "records", _records_done):
                pass
        log.info("standardize %s: %d ranges on %d worker(s)", dataset, plan.n_ranges, workers)
        return merge_ranges(plan, [tmp], tmp)

    result = run_cached("standardize", dataset, out, build)
    check_report(params, result.report, out)
    data_version = version(params, out)
    if data_version is not None:
        result.extra["data_version"] = data_version.to_dict()
    return result
