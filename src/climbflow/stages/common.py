"""Helpers several stages use: open a dataset spec with its options, read its index, version outputs."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from climbflow import catalog
from climbflow.catalog.base import DatasetSpec, RawRecord, Rejected
from climbflow.config import Params
from climbflow.stages.base import StageFailed, Workspace, read_report
from climbflow.store import uri as uris
from climbflow.store.versioning import DataVersion, version_and_push


def open_spec(params: Params, dataset: str) -> DatasetSpec:
    spec = catalog.get(dataset)(params.dataset_options(dataset))
    ws = Workspace.from_params(params)
    if ws.is_s3 and hasattr(type(spec), "deidentifier"):  # DICOM: pseudonyms need one salt for all pods
        from climbflow.catalog.dicom import SALT_ENV, SALT_FILE_ENV

        if not (os.environ.get(SALT_ENV) or os.environ.get(SALT_FILE_ENV)):
            # a salt file in one pod's scratch would give every pod different pseudonyms
            raise StageFailed(
                f"{dataset}: de-identification needs one salt shared by every pod of an s3:// workspace; set "
                f"{SALT_ENV} (from a Secret; see docs/cluster.md) or {SALT_FILE_ENV}"
            )
    spec.bind_workspace(ws.local_root)
    return spec


def snapshot_files(params: Params, snapshot: str) -> Path:
    """Local folder with the files of an ingested snapshot (an ``s3://`` snapshot is downloaded once)."""
    return uris.local_copy(snapshot) / "files"


def file_hashes(files_root: Path) -> dict[str, str]:
    """sha256 per file of an ingested snapshot (its ``files.parquet``), keyed by path relative to ``files/``."""
    import pandas as pd

    frame = pd.read_parquet(files_root.parent / "files.parquet")
    return dict(zip(frame["path"], frame["sha256"], strict=False))


def read_index(spec: DatasetSpec, root: Path) -> tuple[list[RawRecord], list[Rejected]]:
    records, rejected = [], []
    for item in spec.index(root):
        (rejected if isinstance(item, Rejected) else records).append(item)
    return records, rejected


def dvc_remote(params: Params) -> str:
    return params.workspace.dvc_remote or Workspace.from_params(params).uri("dvc-remote")


def dvc_endpoint(params: Params) -> str | None:
    """The S3 endpoint of an ``s3://`` DVC remote: ``workspace.dvc_remote_endpoint``, else ``$AWS_ENDPOINT_URL``."""
    if params.workspace.dvc_remote_endpoint or not uris.is_s3(dvc_remote(params)):
        return params.workspace.dvc_remote_endpoint
    return os.environ.get("AWS_ENDPOINT_URL") or None


def version(params: Params, out: str) -> DataVersion | None:
    """DVC-version a stage output of the workspace (``dvc add`` + push); None for outputs elsewhere.

    With an ``s3://`` workspace the ``.dvc`` file is published beside the output (``<out>.dvc``), so any pod
    reads the version; ``dvc add`` runs on this pod's local copy in its scratch mirror of the workspace.
    """
    ws = Workspace.from_params(params)
    if uris.is_s3(out) != ws.is_s3 or not _inside(out, ws.root):
        return None
    if ws.is_s3:
        known = _dvc_file(out)
        if known is not None and known.pushed and known.remote == uris.redact(dvc_remote(params)):
            return known
        local = uris.local_copy(out)
        found = version_and_push(local, ws.local_root, dvc_remote(params), dvc_endpoint(params))
        dvc_file = local.with_name(local.name + ".dvc")
        uris.write_text(out.rstrip("/") + ".dvc", dvc_file.read_text())
        return found
    return version_and_push(Path(out), Path(ws.root), dvc_remote(params), dvc_endpoint(params))


def _inside(uri: str, root: str) -> bool:
    if uris.is_s3(uri):
        return uri.startswith(root.rstrip("/") + "/")
    return Path(uri).resolve().is_relative_to(root)


def _dvc_file(out: str) -> DataVersion | None:
    """The version recorded in ``<out>.dvc`` (downloaded into the scratch mirror for an ``s3://`` output)."""
    from climbflow.store.versioning import read_dvc_file

    local = uris.mirror_path(out)
    dvc_file = local.with_name(local.name + ".dvc")
    if uris.is_s3(out) and not dvc_file.exists():
        if not uris.file_exists(out.rstrip("/") + ".dvc"):
            return None
        dvc_file.parent.mkdir(parents=True, exist_ok=True)
        dvc_file.write_text(uris.read_text(out.rstrip("/") + ".dvc"))
    return read_dvc_file(local)


def name_source(message: str, root: Path, snapshot: str) -> str:
    """``message`` with the user's source path added after each snapshot-copy path it names."""
    prefix = str(root).rstrip("/") + "/"
    source = _source_uri(snapshot) if prefix in message else None
    if not source:
        return message
    return re.sub(
        re.escape(prefix) + r"([^\s:'\"]+)",
        lambda m: f"{m.group(0)} (source: {source.rstrip('/')}/{m.group(1)})",
        message,
    )


@functools.lru_cache(maxsize=64)
def _source_uri(snapshot: str) -> str | None:
    return read_report(snapshot).get("source_uri")


def snapshot_id(snapshot: str) -> str:
    return read_report(snapshot)["snapshot_id"]


def store_version(store: str) -> str:
    """The DVC hash of a standardized store (from its .dvc file), or a content fingerprint if unversioned."""
    found = _dvc_file(store)
    return found.md5 if found is not None else "unversioned:" + store


def pick_store(standardized: str | list[str], dataset: str) -> str:
    """The standardized store of ``dataset`` among several (the pipeline passes all of them)."""
    from climbflow.store.format import labels_of

    if isinstance(standardized, str):
        return standardized
    for store in standardized:
        if labels_of(store)["dataset"] == dataset:
            return store
    raise ValueError(f"no standardized store for dataset {dataset!r} among {standardized}")
