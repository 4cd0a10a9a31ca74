"""standardize fanned out over shard ranges, for a KFP ``ParallelFor`` (one pod per range) on a cluster.

``plan`` lists the ranges of a dataset as self-contained JSON items, ``run_range`` standardizes one range into its
own part (``<store>.parts/<k>``, published atomically, on S3 or a shared volume), and ``merge`` assembles the parts
into the store exactly as :func:`climbflow.stages.standardize.run` does in one process: the store, its bytes and
its DVC version are the same whatever the fan-out. Items carry everything a range needs because kfp.local 2.17
resolves every task output referenced inside a nested loop to the loop item.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from climbflow.config import Params
from climbflow.stages.base import StageFailed, StageResult, Workspace, read_report, run_cached
from climbflow.stages.common import version
from climbflow.stages.standardize import Plan, check_report, merge_ranges, output_key, write_range
from climbflow.store import uri as uris

log = logging.getLogger(__name__)


def store_uri(params: Params, dataset: str, snapshot: str) -> str:
    return str(
        Workspace.from_params(params).stage_dir(
            "standardized", dataset, output_key(params, dataset, snapshot)
        )
    )


def part_uri(store: str, k: int) -> str:
    return f"{store.rstrip('/')}.parts/{k:05d}"


def plan(params: Params, dataset: str, snapshot: str, validation: str) -> list[str]:
    """One JSON item per shard range (a single ``cached`` item when the store already exists)."""
    if not read_report(validation).get("passed"):
        raise StageFailed(f"{dataset}: refusing to standardize, validation failed ({validation})")
    store = store_uri(params, dataset, snapshot)
    base = {"dataset": dataset, "snapshot": snapshot, "store": store}
    if uris.is_complete(store):
        return [json.dumps(base | {"range": None})]
    n = Plan.build(params, dataset, snapshot).n_ranges
    if n == 0:
        raise StageFailed(f"{dataset}: the snapshot has no records to standardize")
    return [json.dumps(base | {"range": k}) for k in range(n)]


def run_range(params: Params, item: str) -> str:
    """Standardize one planned range into its part; returns the part URI ('' for a cached store)."""
    spec = json.loads(item)
    k = spec["range"]
    if k is None:
        return ""
    uri = part_uri(spec["store"], k)
    if uris.is_complete(uri):
        return uri
    tmp = uris.staging_dir(uri)
    try:
        counts = write_range(Plan.build(params, spec["dataset"], spec["snapshot"]), k, tmp)
        (tmp / uris.COMPLETION_MARKER).write_text(json.dumps(counts) + "\n")
        uris.publish(tmp, uri)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("standardize %s range %d: %s", spec["dataset"], k, counts)
    return uri


def merge(params: Params, dataset: str, snapshot: str, validation: str, parts: list[str]) -> StageResult:
    """Assemble the parts into the standardized store (cached if it exists), version it, drop the parts."""
    store = store_uri(params, dataset, snapshot)
    done = [p for p in parts if p]

    def build(tmp: Path) -> dict:
        cache = Workspace.from_params(params).cache / "s3-parts"
        dirs = [uris.materialize(p, cache) for p in done]
        return merge_ranges(Plan.build(params, dataset, snapshot), dirs, tmp)

    result = run_cached("standardize", dataset, store, build)
    _remove_parts(store)
    check_report(params, result.report, store)  # fails closed like the one-process run
    data_version = version(params, store)
    if data_version is not None:
        result.extra["data_version"] = data_version.to_dict()
    return result


def _remove_parts(store: str) -> None:
    """The parts are merged into the published store: remove them (S3 prefix or local folder)."""
    parts = store.rstrip("/") + ".parts"
    if uris.is_s3(parts):
        fs = uris.s3_filesystem()
        if fs.exists(parts):
            fs.rm(parts, recursive=True)
    else:
        shutil.rmtree(parts, ignore_errors=True)
