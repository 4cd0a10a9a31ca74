"""`climb data versions` / `climb data pull`: versions recorded by DVC, restored from the remote by hash."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from climbflow.stages import ingest, standardize, validate
from climbflow.stages.base import Workspace
from climbflow.stages.common import dvc_remote
from climbflow.store.versioning import find_version, list_versions, pull_version


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_versions_are_listed_and_pulled_back_byte_identical(sample_root, tmp_path, params_factory):
    src = tmp_path / "raw" / "ptbxl"
    shutil.copytree(sample_root / "ptbxl", src)
    params = params_factory({"ptbxl": str(src)})
    snap = ingest.run(params, "ptbxl")
    store = standardize.run(params, "ptbxl", snap.uri, validate.run(params, "ptbxl", snap.uri).uri)
    ws = Workspace.from_params(params).local_root

    entries = list_versions(ws, "ptbxl")
    assert {e.stage for e in entries} == {"raw", "standardized"}
    std = next(e for e in entries if e.stage == "standardized")
    assert std.md5 == store.extra["data_version"]["md5"] and std.present and std.created
    assert find_version(ws, "ptbxl", "latest") == std
    assert find_version(ws, "ptbxl", std.md5[:8]) == std

    before = _digest(Path(store.uri))
    shutil.rmtree(store.uri)  # the workspace lost the store; the DVC remote still has it
    assert not find_version(ws, "ptbxl", std.md5[:8]).present
    restored = pull_version(ws, std, dvc_remote(params))
    assert restored == Path(store.uri) and _digest(restored) == before

    with pytest.raises(LookupError, match="no such version"):
        find_version(ws, "ptbxl", "ffffffff")
