"""Credentials in URLs never leak: a tracking URI, DVC remote endpoint and S3 endpoint carrying
``user:password@`` go through a stage, MLflow, the lineage renderers, the kfp log file and the CLI, and the
password is absent from the logs (caplog and workspace/logs), reports, MLflow params/tags and lineage output.

The secrets are generated at run time (nothing for the secret scanner to find in this file).
"""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import pytest

from climbflow.logs import redact_text, setup_logging

FAKE_PW = "pw" + secrets.token_hex(8)
KEY = "AKIA" + secrets.token_hex(8).upper()
TRACKING = f"http://climb:{FAKE_PW}@mlflow.invalid:5000"
ENDPOINT = f"http://{KEY}:{FAKE_PW}@s3.invalid:8333"


def _assert_clean(text: str, where: str) -> None:
    assert FAKE_PW not in text, f"password leaked in {where}"
    assert KEY not in text, f"access key leaked in {where}"


def _text_files(root: Path):
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in {".json", ".log", ".md", ".html", ".txt", ".yaml", ".dvc"}:
            yield path


def test_redact_text_finds_credentials_anywhere_in_a_line():
    line = f'{{"tracking_uri": "{TRACKING}", "remote": "s3://{KEY}:{FAKE_PW}@bucket/x"}} at {ENDPOINT}/'
    out = redact_text(line)
    _assert_clean(out, "redact_text")
    assert "http://***@mlflow.invalid:5000" in out and "s3://***@bucket/x" in out
    assert (
        redact_text("no url, a@b.c and sqlite:///tmp/mlflow.db")
        == "no url, a@b.c and sqlite:///tmp/mlflow.db"
    )


def test_log_records_and_tracebacks_are_redacted(caplog, tmp_path):
    setup_logging()
    handler = logging.FileHandler(tmp_path / "run.log")
    logging.getLogger().addHandler(handler)
    try:
        from climbflow.logs import install_redaction

        install_redaction()  # also wraps the handler added above
        log = logging.getLogger("climbflow.test")
        with caplog.at_level(logging.INFO):
            log.info("tracking at %s", TRACKING)
            log.warning(f"endpoint {ENDPOINT}")
            try:
                raise ConnectionError(f"cannot reach {TRACKING}")
            except ConnectionError:
                log.exception("push failed")
        handler.flush()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    _assert_clean(caplog.text, "caplog")
    assert "http://***@mlflow.invalid:5000" in caplog.text
    _assert_clean((tmp_path / "run.log").read_text(), "a log file (traceback included)")


@pytest.fixture
def secret_params(tmp_path, params_factory, monkeypatch):
    from climbflow import sampledata

    monkeypatch.setenv("AWS_ENDPOINT_URL", ENDPOINT)
    src = sampledata.write("ptbxl", tmp_path / "raw" / "ptbxl", 40, seed=0)
    return params_factory(
        {"ptbxl": str(src)},
        **{"workspace.tracking_uri": TRACKING},  # (a DVC endpoint applies to s3:// remotes only)
    )


def test_stages_mlflow_and_lineage_never_show_the_credentials(secret_params, caplog, monkeypatch, tmp_path):
    from mlflow.tracking import MlflowClient

    from climbflow.registry import lineage as lin
    from climbflow.registry import tracking
    from climbflow.stages import execute
    from climbflow.stages.base import Workspace

    params = secret_params
    ws = Workspace.from_params(params)
    setup_logging()
    with caplog.at_level(logging.DEBUG):
        snap = execute("ingest", params, dataset="ptbxl")
        val = execute("validate", params, dataset="ptbxl", snapshot=snap.uri)
        std = execute("standardize", params, dataset="ptbxl", snapshot=snap.uri, validation=val.uri)
    _assert_clean(caplog.text, "stage logs")
    for path in _text_files(ws.local_root):  # reports, data docs, .dvc files
        _assert_clean(path.read_text(errors="replace"), str(path.relative_to(ws.local_root)))

    # MLflow: the real tracking server is unreachable here, so record into sqlite but keep the secret params
    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setattr(tracking, "tracking_uri", lambda _params: db)
    parent = tracking.start_pipeline_run(params, "local-test")
    runs = {
        r.stage: tracking.log_stage(params, r, parent_run_id=parent, pipeline_run_id="local-test")
        for r in (snap, val, std)
    }
    client = MlflowClient(db)
    ev = client.create_run(
        tracking.experiment_id(params),
        run_name="evaluate:ptbxl",
        tags={
            "mlflow.parentRunId": parent,
            "climb.stage": "evaluate",
            "climb.name": "ptbxl",
            "climb.output_uri": ENDPOINT + "/eval",
        },  # fmt: skip
    ).info.run_id
    client.create_registered_model("climb-ptbxl")
    client.create_model_version(
        "climb-ptbxl", f"runs:/{ev}/model", run_id=ev, tags={"climb.data_version.ptbxl": std.uri}
    )
    with caplog.at_level(logging.DEBUG):
        tree = lin.lineage(params, "climb-ptbxl/1")
    for run_id in [parent, *runs.values()]:  # (ev carries a raw credential URL on purpose: lineage input)
        data = client.get_run(run_id).data
        _assert_clean(json.dumps(data.tags), f"MLflow tags of {run_id}")
        if run_id != parent:  # the parent run's params: test_pipeline_run_params_are_redacted
            _assert_clean(json.dumps(data.params), f"MLflow params of {run_id}")
    assert "***@" in lin.to_json(tree)  # the secret was there and got redacted
    _assert_clean(lin.to_json(tree), "lineage JSON")
    _assert_clean(lin.to_html(tree), "lineage HTML")
    _assert_clean(str(lin.to_rich(tree)), "lineage tree")
    _assert_clean(caplog.text, "logs")


def test_pipeline_run_params_are_redacted(tmp_path, params_factory, monkeypatch):
    from mlflow.tracking import MlflowClient

    from climbflow.registry import tracking

    params = params_factory({"ptbxl": str(tmp_path / "raw")}, **{"workspace.tracking_uri": TRACKING})
    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setattr(tracking, "tracking_uri", lambda _params: db)
    run_id = tracking.start_pipeline_run(params, "local-test")
    logged = MlflowClient(db).get_run(run_id).data.params
    assert "http://***@mlflow.invalid:5000" in logged.values()
    _assert_clean(json.dumps(logged), "MLflow params of the pipeline run")


def test_the_pipeline_log_file_is_redacted(tmp_path):
    """kfp.local dumps every task's executor input (params_json included) into workspace/logs/<run>.log."""
    from climbflow.pipeline_runner import console_filter

    log_path = tmp_path / "workspace" / "logs" / "local-x.log"
    params_json = json.dumps({"workspace": {"tracking_uri": TRACKING, "dvc_remote_endpoint": ENDPOINT}})
    with console_filter(log_path, verbose=True):
        print(json.dumps({"inputs": {"parameterValues": {"params_json": params_json}}}, indent=2))
        print(f"Executing task 'standardize' against {ENDPOINT}")
    text = log_path.read_text()
    assert "Executing task" in text and "***@s3.invalid" in text
    _assert_clean(text, "workspace/logs")


def test_climb_run_output_is_redacted(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from climbflow import pipeline_runner
    from climbflow.cli import app
    from tests.conftest import make_params

    path = make_params(tmp_path, {"ptbxl": str(tmp_path / "raw")}, **{"workspace.tracking_uri": TRACKING})
    outcome = pipeline_runner.RunOutcome("local-x", "p", 1.0, [], TRACKING, tmp_path / "x.log")
    monkeypatch.setattr(pipeline_runner, "ensure_sample_data", lambda params: [])
    monkeypatch.setattr(pipeline_runner, "run_local", lambda params, verbose=False: outcome)
    result = CliRunner().invoke(app, ["run", "--params", str(path)])
    assert result.exit_code == 0, result.output
    assert "MLflow UI" in result.output and "***@mlflow.invalid" in result.output
    _assert_clean(result.output, "climb run output")
