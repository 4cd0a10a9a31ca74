"""ingest: snapshot a raw dataset copy (local folder or s3:// prefix) into the raw store.

The snapshot holds the files, ``files.parquet`` (path, size, sha256) and a report with the source URI. Its id is a
hash of the file list, so an unchanged source gives the same snapshot id (and the cached snapshot is reused).
The snapshot directory is versioned with DVC and pushed to the DVC remote, unless ``workspace.push_raw`` is
false (raw copies may hold PHI; see docs/security.md).

A source file that must not be snapshotted is left out and reported with its rule (never copied or pushed):
``unsafe_path`` (a symlink resolving outside the source root), ``symlink_loop``, ``dangling_link``,
``unreadable``. The records that need it are then quarantined by validate/standardize as ``missing_file``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from climbflow import catalog
from climbflow.config import Params
from climbflow.stages.base import StageResult, Workspace, run_cached
from climbflow.stages.common import version
from climbflow.store import uri as uris
from climbflow.store.format import write_table

log = logging.getLogger(__name__)
FILES_TABLE = "files.parquet"


def _refusal(path: Path, root: Path) -> tuple[str, str] | None:
    """(rule, message) when the source file ``path`` must not enter the snapshot, else None."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return "dangling_link", f"{path}: symlink target {os.readlink(path)!r} does not exist"
    except RuntimeError:  # Python < 3.13 reports a symlink loop this way
        return "symlink_loop", f"{path}: symlink loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink_loop", f"{path}: symlink loop"
        return "unreadable", f"{path}: {exc.strerror or exc}"
    if not target.is_relative_to(root.resolve()):
        return "unsafe_path", f"{path}: symlink resolves to {target}, outside the source root {root}"
    return None


def hash_tree(root: Path, stat_cache: Path) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(path, size, sha256) of every file, and the files refused with their rule (see the module docstring);
    unchanged files (same size + mtime) reuse their cached hash."""
    cache: dict[str, list] = json.loads(stat_cache.read_text()) if stat_cache.exists() else {}
    entries, refused, fresh = [], [], {}
    for path in uris.iter_local_files(root):
        rel = path.relative_to(root).as_posix()
        why = _refusal(path, root)
        try:
            if why is None:
                st = path.stat()
                hit = cache.get(rel)
                fresh_hash = not (hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns)
                sha = uris.sha256_file(path) if fresh_hash else hit[2]
        except OSError as exc:
            why = "unreadable", f"{path}: {exc.strerror or exc}"
        if why is not None:
            log.warning("ingest: %s [%s]; left out of the snapshot", why[1], why[0])
            refused.append({"path": rel, "rule": why[0], "message": why[1]})
            continue
        fresh[rel] = [st.st_size, st.st_mtime_ns, sha]
        entries.append({"path": rel, "size": st.st_size, "sha256": sha})
    stat_cache.parent.mkdir(parents=True, exist_ok=True)
    stat_cache.write_text(json.dumps(fresh))
    return entries, refused


def snapshot_id(entries: list[dict[str, Any]], refused: list[dict[str, str]] = ()) -> str:
    lines = "\n".join(f"{e['path']}\t{e['size']}\t{e['sha256']}" for e in entries)
    lines += "".join(f"\n{r['path']}\trefused:{r['rule']}" for r in refused)  # absent for a clean source
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def run(params: Params, dataset: str, source: str | None = None, out: str | None = None) -> StageResult:
    """Snapshot ``source`` (default: params ``datasets.<dataset>.source``) of ``dataset``."""
    spec = catalog.get(dataset)
    ws = Workspace.from_params(params)
    source = source or params.datasets[dataset].source
    local = uris.materialize(source, ws.cache / "s3-sources")
    if not local.is_dir():
        raise FileNotFoundError(f"{uris.redact(source)}: the raw source of {dataset!r} must be a directory")
    entries, refused = hash_tree(
        local, ws.cache / "hashes" / f"{hashlib.sha256(str(local).encode()).hexdigest()[:12]}.json"
    )
    if not entries:
        raise FileNotFoundError(f"{uris.redact(source)}: no files found for dataset {dataset!r}")
    sid = snapshot_id(entries, refused)
    out = out or str(ws.stage_dir("raw", dataset, sid))

    def build(tmp: Path) -> dict[str, Any]:
        files = tmp / "files"
        for e in entries:
            dest = files / e["path"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(local / e["path"], dest)
        write_table(entries, None, tmp / FILES_TABLE)
        return {
            "stage": "ingest",
            "dataset": dataset,
            "modality": spec.modality,
            "snapshot_id": sid,
            "source_uri": uris.redact(source),
            "n_files": len(entries),
            "total_bytes": sum(e["size"] for e in entries),
            "n_refused": len(refused),
            "refused_by_rule": dict(sorted(Counter(r["rule"] for r in refused).items())),
            "refused_files": refused,
        }

    result = run_cached("ingest", dataset, out, build)
    if not params.workspace.push_raw:
        log.info("ingest %s: workspace.push_raw is false; the raw snapshot is not DVC-pushed", dataset)
        return result
    data_version = version(params, out)
    if data_version is not None:
        result.extra["data_version"] = data_version.to_dict()
    return result
