"""`climb ui`: the MLflow UI on the workspace's tracking store, started with this environment's Python."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import make_params


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.integration  # starts a real `mlflow server` (~1 min on a busy 2-core machine)
def test_climb_ui_serves_the_workspace_and_links_the_latest_run(tmp_path, monkeypatch):
    from climbflow.config import load
    from climbflow.pipeline_runner import resolve_paths
    from climbflow.registry import tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    path = make_params(tmp_path, {"ptbxl": str(tmp_path / "no-source")})
    run_id = tracking.start_pipeline_run(resolve_paths(load(path), tmp_path), "local-ui-test")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = "/usr/bin:/bin"  # `mlflow` is not on PATH from a fresh clone
    proc = subprocess.Popen(
        [sys.executable, "-m", "climbflow.cli", "ui", "--params", str(path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # mlflow server starts workers: stop the whole group
    )
    try:
        lines = [proc.stdout.readline().strip() for _ in range(2)]
        assert lines == [
            f"MLflow UI: http://127.0.0.1:{port}",
            f"latest climb run: http://127.0.0.1:{port}/#/experiments/1/runs/{run_id}?workflowType=machine_learning",
        ], lines
        api = f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/get?run_id={run_id}"
        deadline, body = time.monotonic() + 120, None
        while body is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(api, timeout=5) as response:
                    body = json.load(response)
            except OSError:
                time.sleep(1)
        assert body is not None, f"the UI never answered (exit {proc.poll()})"
        assert body["run"]["data"]["tags"]  # the run recorded in the workspace's tracking store
        assert {"key": "climb.pipeline_run_id", "value": "local-ui-test"} in body["run"]["data"]["tags"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
