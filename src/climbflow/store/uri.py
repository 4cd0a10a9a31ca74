"""Local-path or ``s3://`` locations: list/hash sources, and publish stage outputs atomically.

Publishing never exposes half-written output: locally a temp directory is renamed into place; on S3 every file
is uploaded first and ``report.json`` (the completion marker readers check) last. Staging directories are hidden
(``.<name>.tmp-<host>.<pid>-*``), ignored by readers, and removed by the next run once their process is gone
(e.g. after a SIGKILL). S3 calls are retried with backoff on outages (:mod:`climbflow.store.retry`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from climbflow.store.faults import fault_point
from climbflow.store.retry import retry_call

COMPLETION_MARKER = "report.json"


def is_s3(uri: str) -> bool:
    return str(uri).startswith("s3://")


def s3_filesystem():
    """An s3fs filesystem using the standard AWS env (endpoint from AWS_ENDPOINT_URL / MLFLOW_S3_ENDPOINT_URL)."""
    import s3fs

    endpoint = s3_endpoint()
    # no botocore retries by default (s3fs retries each call 5 times within ~2 s), bounded timeouts: an outage
    # surfaces within seconds and is retried with backoff, as a whole call, by retry_call; never a hang
    config = {
        "retries": {"max_attempts": int(os.environ.get("CLIMB_S3_MAX_ATTEMPTS", 1)), "mode": "standard"},
        "connect_timeout": float(os.environ.get("CLIMB_S3_CONNECT_TIMEOUT_S", 5)),
        "read_timeout": float(os.environ.get("CLIMB_S3_READ_TIMEOUT_S", 60)),
    }
    return s3fs.S3FileSystem(
        client_kwargs={"endpoint_url": endpoint} if endpoint else {}, config_kwargs=config
    )


def s3_endpoint() -> str:
    """The S3 endpoint in use (for messages): AWS_ENDPOINT_URL / MLFLOW_S3_ENDPOINT_URL, else AWS."""
    return os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("MLFLOW_S3_ENDPOINT_URL") or "AWS S3"


def _s3_call(fs, what: str, fn):
    """``fn()`` retried on S3 outages (the listing cache is dropped before each retry)."""
    return retry_call(fn, what=what, endpoint=s3_endpoint(), on_retry=fs.invalidate_cache)


def _owner_tag() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(parent: Path, prefix: str) -> list[Path]:
    """Remove ``parent/<prefix><host>.<pid>-*`` left by a dead process of this host; returns what went."""
    removed = []
    if not parent.is_dir():
        return removed
    host = socket.gethostname()
    for path in parent.glob(prefix + "*"):
        owner = path.name[len(prefix) :].rsplit("-", 1)[0]
        owner_host, _, pid = owner.rpartition(".")
        if owner_host != host or not pid.isdigit() or _pid_alive(int(pid)):
            continue  # another host's (shared storage) or a live process's: not ours to judge
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def redact(uri: str) -> str:
    """Drop credentials from a URL (``s3://key:secret@bucket`` or ``https://user:pw@host``)."""
    if "://" in uri and "@" in uri.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def iter_local_files(root: Path) -> Iterator[Path]:
    """Files under ``root`` in sorted order (hidden files and dirs skipped)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def materialize(uri: str, cache_dir: Path) -> Path:
    """A local directory with the content of ``uri`` (an S3 prefix is downloaded into ``cache_dir``)."""
    if not is_s3(uri):
        path = Path(uri)
        if not path.exists():
            raise FileNotFoundError(f"{uri}: no such file or directory")
        return path
    fs = s3_filesystem()
    if not _s3_call(fs, f"check {redact(uri)}", lambda: fs.exists(uri)):
        raise FileNotFoundError(f"{redact(uri)}: no such S3 prefix")
    local = cache_dir / hashlib.sha256(uri.encode()).hexdigest()[:16]
    _download(fs, uri, local)
    return local


def _download(fs, uri: str, local: Path) -> None:
    """Download the S3 prefix ``uri`` into the folder ``local`` whole: into a hidden temp folder first (a retry
    starts over, a crash leaves only that, removed by the next call), then renamed into place."""
    local.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(local.parent, f".{local.name}.tmp-")
    tmp = local.with_name(f".{local.name}.tmp-{_owner_tag()}-{uuid.uuid4().hex[:8]}")

    def download() -> None:
        shutil.rmtree(tmp, ignore_errors=True)
        fs.get(uri.rstrip("/") + "/", str(tmp), recursive=True)

    try:
        _s3_call(fs, f"download {redact(uri)}", download)
        if local.exists():
            shutil.rmtree(local)
        os.replace(tmp, local)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def join(uri: str, *parts: str) -> str:
    """``uri/part/...`` for a local path or an ``s3://`` prefix (no normalization beyond the slashes)."""
    return "/".join([str(uri).rstrip("/"), *(str(p).strip("/") for p in parts)])


def scratch_dir() -> Path:
    """This machine's (pod's) local scratch space: ``$CLIMB_SCRATCH``, else ``<tmp>/climb-scratch``."""
    return Path(os.environ.get("CLIMB_SCRATCH") or Path(tempfile.gettempdir()) / "climb-scratch")


def mirror_path(uri: str) -> Path:
    """Where the local copy of ``s3://bucket/key`` lives in the scratch space (``<scratch>/s3/bucket/key``)."""
    if not is_s3(uri):
        return Path(uri)
    return scratch_dir() / "s3" / str(uri)[len("s3://") :].strip("/")


def local_copy(uri: str) -> Path:
    """A local directory with a published stage output (a path as is; an ``s3://`` output downloaded once).

    Stage outputs are immutable (content-addressed, published whole), so a complete local copy is reused.
    """
    if not is_s3(uri):
        return Path(uri)
    local = mirror_path(uri)
    if (local / COMPLETION_MARKER).exists():
        return local
    if not is_complete(uri):
        raise FileNotFoundError(
            f"{redact(uri)}: no published output there (its {COMPLETION_MARKER} is missing)"
        )
    _download(s3_filesystem(), uri, local)
    return local


def read_text(uri: str) -> str:
    """The text of one file (local path or ``s3://`` key)."""
    if not is_s3(uri):
        return Path(uri).read_text()
    fs = s3_filesystem()

    def load() -> str:
        with fs.open(uri, "rb") as fh:
            return fh.read().decode()

    return _s3_call(fs, f"read {redact(uri)}", load)


def write_text(uri: str, text: str) -> None:
    """Write one file whole: locally via a temp name + rename; on S3 a single PUT (atomic per object)."""
    if is_s3(uri):
        fs = s3_filesystem()
        _s3_call(fs, f"write {redact(uri)}", lambda: fs.pipe_file(uri, text.encode()))
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{_owner_tag()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def file_exists(uri: str) -> bool:
    if not is_s3(uri):
        return Path(uri).exists()
    fs = s3_filesystem()
    return bool(_s3_call(fs, f"check {redact(uri)}", lambda: fs.exists(uri)))


def list_files(prefix: str, pattern: str) -> list[str]:
    """Files directly under ``prefix`` whose name matches the glob ``pattern`` (sorted URIs / paths)."""
    if not is_s3(prefix):
        return sorted(str(p) for p in Path(prefix).glob(pattern))
    fs = s3_filesystem()
    found = _s3_call(fs, f"list {redact(prefix)}", lambda: fs.glob(join(prefix, pattern)))
    return sorted("s3://" + f.removeprefix("s3://") for f in found)


def is_complete(uri: str) -> bool:
    """True when a published output exists at ``uri`` (its completion marker is present)."""
    marker = uri.rstrip("/") + "/" + COMPLETION_MARKER
    if not is_s3(uri):
        return Path(marker).exists()
    fs = s3_filesystem()
    return bool(_s3_call(fs, f"check {redact(uri)}", lambda: fs.exists(marker)))


def staging_dir(uri: str) -> Path:
    """A fresh temp directory to build the output of ``uri`` in (same filesystem when local)."""
    if is_s3(uri):
        clean_stale(Path(tempfile.gettempdir()), "climb-stage-")
        return Path(tempfile.mkdtemp(prefix=f"climb-stage-{_owner_tag()}-"))
    dest = Path(uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(dest.parent, f".{dest.name}.tmp-")
    clean_stale(dest.parent, f".{dest.name}.old-")
    return Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-{_owner_tag()}-", dir=dest.parent))


def publish(built: Path, uri: str) -> str:
    """Move a fully built directory to ``uri`` atomically; returns ``uri``."""
    if not (built / COMPLETION_MARKER).exists():
        raise RuntimeError(f"{built}: refusing to publish an output without {COMPLETION_MARKER}")
    if is_s3(uri):
        fs = s3_filesystem()
        files = sorted(p for p in built.rglob("*") if p.is_file())
        marker = built / COMPLETION_MARKER
        for path in [*(p for p in files if p != marker), marker]:  # the marker last
            fault_point("s3.put")
            key = f"{uri.rstrip('/')}/{path.relative_to(built).as_posix()}"
            _s3_call(fs, f"upload {redact(key)}", lambda p=path, k=key: fs.put_file(str(p), k))
        shutil.rmtree(built)
        return uri
    dest = Path(uri)
    os.chmod(built, 0o755)  # mkdtemp creates 0700
    if dest.exists():  # an earlier, interrupted or identical output: replace it whole
        trash = dest.with_name(f".{dest.name}.old-{_owner_tag()}-{uuid.uuid4().hex[:8]}")
        os.replace(dest, trash)
        os.replace(built, dest)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(built, dest)
    return uri
