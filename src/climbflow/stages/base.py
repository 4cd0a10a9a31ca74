"""What all stages share: workspace paths, content-addressed output locations (the stage cache), reports.

A stage's output location is ``<workspace>/<stage>/<name>/<key>`` where ``key`` hashes everything the output
depends on (input versions, the stage's config section, the stage schema version). An output whose completion
marker exists is reused as is; that is what makes a re-run with nothing changed take seconds, and a changed
dataset re-run only what depends on it. DVC (dvc.yaml) and KFP may cache on top; this cache works in all three.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from climbflow.config import Params
from climbflow.store import uri as uris

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"  # bump to invalidate every cached stage output after a format change


class StageFailed(RuntimeError):
    """A stage refused its input (e.g. validation failed); the message is a human summary."""


class DiskFull(StageFailed):
    """The workspace ran out of space (or quota) while a stage wrote its output; nothing was published."""


@dataclass(frozen=True)
class Workspace:
    """Where the stages keep their outputs: a local folder (the embedded default; an RWX PVC on a cluster) or an
    ``s3://bucket/prefix`` shared by every pod. Outputs are published under ``root``; what must be a local
    directory (decode/training scratch, the DVC repo, downloaded inputs) lives under :attr:`local_root`: the
    folder itself, or, for S3, this machine's mirror of the prefix (``$CLIMB_SCRATCH/s3/bucket/prefix``).
    """

    root: str

    @classmethod
    def from_params(cls, params: Params) -> Workspace:
        root = params.workspace.root
        return cls(root.rstrip("/") if uris.is_s3(root) else str(Path(root).resolve()))

    @property
    def is_s3(self) -> bool:
        return uris.is_s3(self.root)

    @property
    def local_root(self) -> Path:
        return uris.mirror_path(self.root)

    def uri(self, *parts: str) -> str:
        return uris.join(self.root, *parts)

    def stage_dir(self, stage: str, name: str, key: str) -> str:
        return self.uri(stage, name, key)

    @property
    def cache(self) -> Path:
        return self.local_root / ".cache"


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-serializable parts."""
    blob = json.dumps([SCHEMA_VERSION, *parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class StageResult:
    """What a stage returns: where its output is, its JSON report, and whether it came from the cache."""

    stage: str
    name: str
    uri: str
    report: dict[str, Any]
    cache_hit: bool
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def read_report(uri: str) -> dict[str, Any]:
    marker = uri.rstrip("/") + "/" + uris.COMPLETION_MARKER
    local = uris.mirror_path(marker)
    if uris.is_s3(uri) and local.exists():  # an immutable output downloaded before
        return json.loads(local.read_text())
    return json.loads(uris.read_text(marker))


def write_report(directory: Path, report: dict[str, Any]) -> None:
    (directory / uris.COMPLETION_MARKER).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def checkpoint_dir(params: Params, stage: str, out: str) -> Path:
    """Where a training stage keeps resumable checkpoints: next to its output, outside the staging dir (which is
    removed on failure), so re-running the same command after a crash resumes from ``last.ckpt``."""
    if uris.is_s3(out):
        return Workspace.from_params(params).cache / "checkpoints" / stage / fingerprint(out)
    return Path(out + ".ckpt")


def run_cached(stage: str, name: str, out: str, build: Callable[[Path], dict[str, Any]]) -> StageResult:
    """Reuse the output at ``out`` if complete, else ``build`` it in a staging dir and publish atomically.

    ``build(tmp_dir)`` writes the stage's files and returns its report (written last, as completion marker).
    A crash (even SIGKILL) leaves at most a hidden staging dir, removed by the next run; the published output
    is complete or absent. Running out of disk raises :class:`DiskFull` naming the output and the device.
    """
    start = time.perf_counter()
    if uris.is_complete(out):
        log.info("%s[%s]: cached output %s", stage, name, uris.redact(out))
        return StageResult(stage, name, out, read_report(out), True, time.perf_counter() - start)
    tmp = uris.staging_dir(out)
    try:
        report = build(tmp)
        write_report(tmp, report)
        uris.publish(tmp, out)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            where = tmp if tmp.exists() else Path(out)
            raise DiskFull(
                f"{stage}[{name}]: no space left on device while writing {uris.redact(out)} "
                f"(staging {tmp}, {_free(where)}): {exc.strerror or exc}; nothing was published and the "
                "partial output was removed. Free space (or move workspace.root) and re-run the same command."
            ) from exc
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("%s[%s]: wrote %s", stage, name, uris.redact(out))
    return StageResult(stage, name, out, report, False, time.perf_counter() - start)


def _free(path: Path) -> str:
    """``"<free> MiB free of <total> MiB on <mount>"`` for the filesystem of ``path`` (best effort)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError:
        return "free space unknown"
    return f"{usage.free / 2**20:.1f} MiB free of {usage.total / 2**20:.1f} MiB at {probe}"
