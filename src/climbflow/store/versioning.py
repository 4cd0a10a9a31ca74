"""DVC adapter: every dataset version (raw snapshot, standardized store) is `dvc add`-ed in the workspace DVC
repository and pushed to the DVC remote. The DVC hash (``<md5>.dir``) is the data version recorded everywhere.

Crash safety: the ``.dvc`` file records ``meta.pushed: true`` only after the push succeeded, so a process
killed during ``dvc add`` or ``dvc push`` leaves a version that the next run adds/pushes again (push uploads only
what the remote lacks). ``.dvc`` files are written atomically. Push and pull are retried with backoff on remote
outages (:mod:`climbflow.store.retry`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from climbflow.store.faults import fault_point
from climbflow.store.retry import retry_call
from climbflow.store.uri import redact, write_text

log = logging.getLogger(__name__)
REMOTE_NAME = "climb"


@dataclass(frozen=True)
class DataVersion:
    path: str  # local path of the versioned directory
    md5: str  # DVC hash, e.g. "baf82a41....dir"
    remote: str  # DVC remote URL it was pushed to (credentials redacted)
    nfiles: int
    size: int
    pushed: bool = True  # False: recorded by `dvc add` but the push did not finish (a crash or an outage)

    def to_dict(self) -> dict:
        return asdict(self)


def _quiet_env() -> None:
    """No analytics; DVC's console messages (e.g. "Initialized DVC repository.") go to stderr, not stdout,
    so that ``climb stage`` prints only its JSON there."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    import dvc  # noqa: F401  (its import installs the console handlers)

    for handler in logging.getLogger("dvc").handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


def ensure_repo(root: Path, remote_url: str, endpoint_url: str | None = None):
    """Open (or ``dvc init --no-scm``) the workspace DVC repo and point its default remote at ``remote_url``."""
    _quiet_env()
    from dvc.repo import Repo

    root.mkdir(parents=True, exist_ok=True)
    repo = Repo(str(root)) if (root / ".dvc").is_dir() else Repo.init(str(root), no_scm=True)
    remote = {"url": remote_url}
    if endpoint_url:
        remote["endpointurl"] = endpoint_url
    current = repo.config.get("remote", {}).get(REMOTE_NAME)
    if current != remote or repo.config["core"].get("remote") != REMOTE_NAME:
        with repo.config.edit() as conf:
            conf["remote"][REMOTE_NAME] = remote
            conf["core"]["remote"] = REMOTE_NAME
            conf["core"]["check_update"] = False
            conf["core"]["analytics"] = False
    return repo


def read_dvc_file(path: Path) -> DataVersion | None:
    """The version recorded in ``<dir>.dvc`` next to a versioned directory, or None."""
    dvc_file = path.with_name(path.name + ".dvc")
    if not dvc_file.exists():
        return None
    try:
        content = yaml.safe_load(dvc_file.read_text()) or {}
        out = content["outs"][0]
        out["md5"]
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        log.warning("%s is incomplete (an interrupted `dvc add`?); it will be recreated", dvc_file)
        return None
    meta = content.get("meta") or {}
    return DataVersion(
        str(path),
        out["md5"],
        meta.get("remote", ""),
        out.get("nfiles", 0),
        out.get("size", 0),
        bool(meta.get("pushed", False)),
    )


def _write_atomic(path: Path, text: str) -> None:
    write_text(str(path), text)


@contextlib.contextmanager
def repo_lock(root: Path, timeout: float = 900.0) -> Iterator[None]:
    """Serialize DVC operations of parallel tasks on one workspace (DVC's own lock gives up after seconds)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".climb-dvc.lock", "w") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{root}: another task held the DVC lock for {timeout:.0f} s"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def version_and_push(
    path: Path, repo_root: Path, remote_url: str, endpoint_url: str | None = None
) -> DataVersion:
    """`dvc add` a directory inside the workspace repo and `dvc push` it; idempotent for unchanged content."""
    path = path.resolve()
    existing = read_dvc_file(path)
    if existing is not None and existing.remote == redact(remote_url) and existing.pushed:
        return existing
    with repo_lock(repo_root.resolve()):
        dvc_file = path.with_name(path.name + ".dvc")
        if dvc_file.exists() and existing is None:
            dvc_file.unlink()  # cut short by a crash: `dvc add` writes it again
        created = _created(dvc_file)
        repo = ensure_repo(repo_root.resolve(), remote_url, endpoint_url)
        stages = repo.add([str(path)])
        dvc_file = Path(stages[0].path)
        content = yaml.safe_load(dvc_file.read_text())
        meta = {
            "remote": redact(remote_url),
            "stage": path.parent.parent.name,
            "dataset": path.parent.name,
            "created": created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "pushed": False,
        }
        content["meta"] = meta
        _write_atomic(dvc_file, yaml.safe_dump(content, sort_keys=False))
        fault_point("dvc.push")  # test-only crash hook, inert by default
        retry_call(
            lambda: repo.push(targets=[str(dvc_file)], remote=REMOTE_NAME),
            what=f"dvc push of {path.name}",
            endpoint=_remote_where(remote_url, endpoint_url),
        )
        content["meta"] = {**meta, "pushed": True}
        _write_atomic(dvc_file, yaml.safe_dump(content, sort_keys=False))
    version = read_dvc_file(path)
    assert version is not None
    log.info("versioned %s as %s (pushed to %s)", path, version.md5, redact(remote_url))
    return version


def _created(dvc_file: Path) -> str | None:
    """The creation time recorded by an earlier (interrupted) run, kept so a re-run records the same."""
    try:
        value = ((yaml.safe_load(dvc_file.read_text()) or {}).get("meta") or {}).get("created")
        return str(value) if value else None
    except (OSError, yaml.YAMLError, AttributeError):
        return None


def _remote_where(remote_url: str, endpoint_url: str | None) -> str:
    return redact(remote_url) + (f" via {redact(endpoint_url)}" if endpoint_url else "")


@dataclass(frozen=True)
class VersionEntry:
    """One recorded version of a dataset: its ``.dvc`` file and what it says."""

    dataset: str
    stage: str  # "raw" (ingested snapshot) | "standardized"
    md5: str
    path: Path  # where the versioned directory lives (or is restored to)
    dvc_file: Path
    nfiles: int
    size: int
    created: str
    remote: str
    present: bool  # the directory is in the workspace now


def list_versions(
    workspace: Path, dataset: str, stages: tuple[str, ...] = ("standardized", "raw")
) -> list[VersionEntry]:
    """Every version of ``dataset`` recorded in the workspace (newest first), present locally or not."""
    entries = []
    for stage in stages:
        for dvc_file in sorted((Path(workspace) / stage / dataset).glob("*.dvc")):
            content = yaml.safe_load(dvc_file.read_text()) or {}
            out, meta = content["outs"][0], content.get("meta") or {}
            target = dvc_file.with_name(dvc_file.name[: -len(".dvc")])
            entries.append(
                VersionEntry(
                    dataset,
                    stage,
                    out["md5"],
                    target,
                    dvc_file,
                    int(out.get("nfiles", 0)),
                    int(out.get("size", 0)),
                    str(meta.get("created", "")),
                    str(meta.get("remote", "")),
                    (target / "report.json").exists(),
                )
            )
    return sorted(entries, key=lambda e: (e.created, e.md5), reverse=True)


def find_version(workspace: Path, dataset: str, version: str) -> VersionEntry:
    """The version whose DVC hash starts with ``version`` (``latest`` = the newest standardized one)."""
    entries = list_versions(workspace, dataset)
    if version == "latest":
        matches = [e for e in entries if e.stage == "standardized"][:1]
    else:
        matches = [e for e in entries if e.md5.startswith(version)]
    if not matches:
        known = ", ".join(e.md5[:12] for e in entries) or "none"
        raise LookupError(f"{dataset}@{version}: no such version in {workspace} (known: {known})")
    if len({e.md5 for e in matches}) > 1:
        raise LookupError(f"{dataset}@{version}: ambiguous, matches {[e.md5[:12] for e in matches]}")
    return matches[0]


def pull_version(
    workspace: Path, entry: VersionEntry, remote_url: str, endpoint_url: str | None = None
) -> Path:
    """Restore a version's directory from the DVC remote (``dvc pull`` of its ``.dvc`` file); returns it."""
    with repo_lock(Path(workspace).resolve()):
        repo = ensure_repo(Path(workspace).resolve(), remote_url, endpoint_url)
        retry_call(
            lambda: repo.pull(targets=[str(entry.dvc_file)], remote=REMOTE_NAME, force=True),
            what=f"dvc pull of {entry.dataset}@{entry.md5[:12]}",
            endpoint=_remote_where(remote_url, endpoint_url),
        )
    if not (entry.path / "report.json").exists():
        raise RuntimeError(f"dvc pull of {entry.dvc_file} did not restore {entry.path}")
    log.info("restored %s@%s into %s", entry.dataset, entry.md5, entry.path)
    return entry.path
