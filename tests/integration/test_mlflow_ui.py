"""The MLflow UI as people see it, rendered by headless Chromium (network off but loopback) from a real
`mlflow server`: the link climbflow prints opens the run in the "Model training" view, the evaluate run page
shows the CI bounds as metrics and the datasets it read, and the experiment lists the readable parent run name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import running_mlflow_server
from tests.unit.registry.test_tracking_ui import evaluate_result

CHROMIUM = "/usr/bin/chromium"
# no network: names do not resolve (but the loopback address), and anything else goes to a proxy that is not there
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9"]


def render(url: str, profile: Path) -> str:
    """The DOM of ``url`` once the single-page app has fetched its data."""
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        *OFFLINE,
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
        "--virtual-time-budget=30000",
        "--dump-dom",
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.integration
def test_run_page_shows_ci_metrics_datasets_and_model_training_view(tmp_path, params_factory, monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium): MLflow UI not rendered")
    from climbflow.cli_registry import run_url
    from climbflow.registry import tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = tmp_path / "mlflow"
    root.mkdir()
    with running_mlflow_server(f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"), root, {}) as url:
        overrides = {"workspace.tracking_uri": url, "evaluate.register_model": False}
        params = params_factory({"ptbxl": str(tmp_path / "no-source")}, **overrides)
        parent = tracking.start_pipeline_run(params, "pr-ui")
        child = tracking.log_stage(params, evaluate_result(tmp_path), parent, "pr-ui")
        tracking.finish_pipeline_run(params, parent, "FINISHED", {"ptbxl.macro_auc": 0.8})
        exp = tracking.experiment_id(params)
        parent_name = tracking.mlflow_client(params)[1].get_run(parent).info.run_name

        run_page = render(run_url(url, child, exp), tmp_path / "profile-run")
        assert "macro_auc_ci_low" in run_page and "macro_auc_ci_high" in run_page
        assert "0.71" in run_page and "0.88" in run_page
        assert "cinc2021" in run_page  # the Datasets section: the pretrain dataset behind the model
        # the "Model training" view (its Runs list), not the GenAI one (Overview of traces, Evaluation runs)
        assert ">Runs<" in run_page and ">Evaluation runs<" not in run_page

        runs = render(f"{url}/#/experiments/{exp}?workflowType=machine_learning", tmp_path / "profile-exp")
        assert parent_name.split(" · ")[1] in runs and "ptbxl → ptbxl" in runs
