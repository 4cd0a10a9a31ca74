"""ingest: snapshot a raw dataset copy (local folder or s3:// prefix) into the raw store.

The snapshot holds the files, ``files.parquet`` (path, size, sha256) and a report with the source URI. Its id is a
hash of the file list, so an unchanged source gives the same snapshot id (and the cached snapshot is reused).
The snapshot directory is versioned with DVC and pushed to the DVC remote.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
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


def _hash_tree(root: Path, stat_cache: Path) -> list[dict[str, Any]]:
    """(path, size, sha256) of every file; unchanged files (same size + mtime) reuse their cached hash."""
    cache: dict[str, list] = json.loads(stat_cache.read_text()) if stat_cache.exists() else {}
    entries, fresh = [], {}
    for path in uris.iter_local_files(root):
        rel = path.relative_to(root).as_posix()
        st = path.stat()
        hit = cache.get(rel)
        sha = hit[2] if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns else uris.sha256_file(path)
        fresh[rel] = [st.st_size, st.st_mtime_ns, sha]
        entries.append({"path": rel, "size": st.st_size, "sha256": sha})
    stat_cache.parent.mkdir(parents=True, exist_ok=True)
    stat_cache.write_text(json.dumps(fresh))
    return entries


def snapshot_id(entries: list[dict[str, Any]]) -> str:
    lines = "\n".join(f"{e['path']}\t{e['size']}\t{e['sha256']}" for e in entries)
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def run(params: Params, dataset: str, source: str | None = None, out: str | None = None) -> StageResult:
    """Snapshot ``source`` (default: params ``datasets.<dataset>.source``) of ``dataset``."""
    spec = catalog.get(dataset)
    ws = Workspace.from_params(params)
    source = source or params.datasets[dataset].source
    local = uris.materialize(source, ws.cache / "s3-sources")
    if not local.is_dir():
        raise FileNotFoundError(f"{uris.redact(source)}: the raw source of {dataset!r} must be a directory")
    entries = _hash_tree(
        local, ws.cache / "hashes" / f"{hashlib.sha256(str(local).encode()).hexdigest()[:12]}.json"
    )
    if not entries:
        raise FileNotFoundError(f"{uris.redact(source)}: no files found for dataset {dataset!r}")
    sid = snapshot_id(entries)
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
        }

    result = run_cached("ingest", dataset, out, build)
    data_version = version(params, out)
    if data_version is not None:
        result.extra["data_version"] = data_version.to_dict()
    return result
