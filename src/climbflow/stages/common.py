"""Helpers several stages use: open a dataset spec with its options, read its index, version outputs."""

from __future__ import annotations

from pathlib import Path

from climbflow import catalog
from climbflow.catalog.base import DatasetSpec, RawRecord, Rejected
from climbflow.config import Params
from climbflow.stages.base import Workspace, read_report
from climbflow.store import uri as uris
from climbflow.store.versioning import DataVersion, version_and_push


def open_spec(params: Params, dataset: str) -> DatasetSpec:
    spec = catalog.get(dataset)(params.dataset_options(dataset))
    spec.bind_workspace(Workspace.from_params(params).root)
    return spec


def snapshot_files(params: Params, snapshot: str) -> Path:
    """Local folder with the files of an ingested snapshot."""
    return uris.materialize(snapshot, Workspace.from_params(params).cache / "s3-snapshots") / "files"


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
    ws = Workspace.from_params(params)
    return params.workspace.dvc_remote or str(ws.root / "dvc-remote")


def version(params: Params, out: str) -> DataVersion | None:
    """DVC-version a local stage output inside the workspace; None for outputs elsewhere (e.g. s3://)."""
    ws = Workspace.from_params(params)
    if uris.is_s3(out) or not Path(out).resolve().is_relative_to(ws.root):
        return None
    return version_and_push(Path(out), ws.root, dvc_remote(params), params.workspace.dvc_remote_endpoint)


def snapshot_id(snapshot: str) -> str:
    return read_report(snapshot)["snapshot_id"]


def store_version(store: str) -> str:
    """The DVC hash of a standardized store (from its .dvc file), or a content fingerprint if unversioned."""
    from climbflow.store.versioning import read_dvc_file

    found = read_dvc_file(Path(store))
    return found.md5 if found is not None else "unversioned:" + store


def pick_store(standardized: str | list[str], dataset: str) -> str:
    """The standardized store of ``dataset`` among several (the pipeline passes all of them)."""
    from climbflow.stages.standardize import labels_of

    if isinstance(standardized, str):
        return standardized
    for store in standardized:
        if labels_of(store)["dataset"] == dataset:
            return store
    raise ValueError(f"no standardized store for dataset {dataset!r} among {standardized}")
