"""Local-path or ``s3://`` locations: list/hash sources, and publish stage outputs atomically.

Publishing never exposes half-written output: locally a temp directory is renamed into place; on S3 every file
is uploaded first and ``report.json`` (the completion marker readers check) last.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

COMPLETION_MARKER = "report.json"


def is_s3(uri: str) -> bool:
    return str(uri).startswith("s3://")


def s3_filesystem():
    """An s3fs filesystem using the standard AWS env (endpoint from AWS_ENDPOINT_URL / MLFLOW_S3_ENDPOINT_URL)."""
    import s3fs

    endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("MLFLOW_S3_ENDPOINT_URL")
    return s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint} if endpoint else {})


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
    if not fs.exists(uri):
        raise FileNotFoundError(f"{redact(uri)}: no such S3 prefix")
    local = cache_dir / hashlib.sha256(uri.encode()).hexdigest()[:16]
    tmp = local.with_name(local.name + f".tmp-{uuid.uuid4().hex[:8]}")
    fs.get(uri.rstrip("/") + "/", str(tmp), recursive=True)
    if local.exists():
        shutil.rmtree(local)
    os.replace(tmp, local)
    return local


def is_complete(uri: str) -> bool:
    """True when a published output exists at ``uri`` (its completion marker is present)."""
    marker = uri.rstrip("/") + "/" + COMPLETION_MARKER
    return s3_filesystem().exists(marker) if is_s3(uri) else Path(marker).exists()


def staging_dir(uri: str) -> Path:
    """A fresh temp directory to build the output of ``uri`` in (same filesystem when local)."""
    if is_s3(uri):
        return Path(tempfile.mkdtemp(prefix="climb-stage-"))
    dest = Path(uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))


def publish(built: Path, uri: str) -> str:
    """Move a fully built directory to ``uri`` atomically; returns ``uri``."""
    if not (built / COMPLETION_MARKER).exists():
        raise RuntimeError(f"{built}: refusing to publish an output without {COMPLETION_MARKER}")
    if is_s3(uri):
        fs = s3_filesystem()
        files = sorted(p for p in built.rglob("*") if p.is_file())
        for path in [p for p in files if p.name != COMPLETION_MARKER or p.parent != built]:
            fs.put_file(str(path), f"{uri.rstrip('/')}/{path.relative_to(built).as_posix()}")
        fs.put_file(str(built / COMPLETION_MARKER), f"{uri.rstrip('/')}/{COMPLETION_MARKER}")
        shutil.rmtree(built)
        return uri
    dest = Path(uri)
    os.chmod(built, 0o755)  # mkdtemp creates 0700
    if dest.exists():  # an earlier, interrupted or identical output: replace it whole
        trash = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(dest, trash)
        os.replace(built, dest)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(built, dest)
    return uri
