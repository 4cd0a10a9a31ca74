"""The workspace as the pods of a cluster see it: an ``s3://`` root is kept as a URI (outputs published there),
what must be local lives in the pod's scratch mirror, tracking must be a server, DICOM needs one shared salt.
No services: nothing here touches S3 (the container tier runs the same against a real S3 server)."""

from __future__ import annotations

import pytest

from climbflow.stages.base import StageFailed, Workspace


def _s3_params(params_factory, **sources):
    return params_factory(sources or {"ptbxl": "/data/ptbxl"}, **{"workspace.root": "s3://climb-ws/team/ws/"})


def test_an_s3_root_stays_a_uri_and_maps_to_the_pods_scratch(params_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("CLIMB_SCRATCH", str(tmp_path / "scratch"))
    ws = Workspace.from_params(_s3_params(params_factory))
    assert ws.root == "s3://climb-ws/team/ws" and ws.is_s3
    assert ws.stage_dir("standardized", "ptbxl", "abc") == "s3://climb-ws/team/ws/standardized/ptbxl/abc"
    assert ws.local_root == tmp_path / "scratch" / "s3" / "climb-ws" / "team" / "ws"
    assert ws.cache == ws.local_root / ".cache"


def test_a_local_root_is_its_own_local_root(params_factory, tmp_path):
    ws = Workspace.from_params(params_factory({"ptbxl": "/data/ptbxl"}))
    assert not ws.is_s3 and ws.local_root == tmp_path / "workspace"
    assert ws.stage_dir("raw", "ptbxl", "k") == str(tmp_path / "workspace" / "raw" / "ptbxl" / "k")


def test_an_s3_workspace_needs_a_tracking_server(params_factory, monkeypatch):
    from climbflow.registry.tracking import TrackingUnavailable, tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    params = _s3_params(params_factory)
    with pytest.raises(TrackingUnavailable, match="MLFLOW_TRACKING_URI"):
        tracking_uri(params)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.climbflow.svc.cluster.local:5000")
    assert tracking_uri(params) == "http://mlflow.climbflow.svc.cluster.local:5000"


def test_one_workspaces_tracking_uri_does_not_leak_into_the_next(tmp_path, monkeypatch):
    """mlflow.set_tracking_uri exports $MLFLOW_TRACKING_URI; that is not a user's setting for another config."""
    from climbflow.config import parse
    from climbflow.registry import tracking
    from tests.conftest import make_params

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    import yaml

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    first = parse(yaml.safe_load(make_params(tmp_path / "a", {"ptbxl": "/x"}).read_text()))
    second = parse(yaml.safe_load(make_params(tmp_path / "b", {"ptbxl": "/x"}).read_text()))
    tracking.mlflow_client(first)
    assert tracking.tracking_uri(second) == f"sqlite:///{tmp_path / 'b' / 'workspace' / 'mlflow.db'}"


def test_dicom_on_an_s3_workspace_refuses_a_per_pod_salt(params_factory, monkeypatch):
    from climbflow.catalog.dicom import SALT_ENV, SALT_FILE_ENV
    from climbflow.stages.common import open_spec

    monkeypatch.delenv(SALT_ENV, raising=False)
    monkeypatch.delenv(SALT_FILE_ENV, raising=False)
    params = _s3_params(params_factory, vindr_cxr="/data/vindr", ptbxl="/data/ptbxl")
    with pytest.raises(StageFailed, match=SALT_ENV):
        open_spec(params, "vindr_cxr")
    assert open_spec(params, "ptbxl").modality == "ecg"  # no de-identification, no salt needed
    monkeypatch.setenv(SALT_ENV, "a-shared-secret-salt")
    assert open_spec(params, "vindr_cxr").modality == "image2d"
