"""`climb submit / schedule / runs` against a local HTTP server speaking the KFP v2beta1 REST API.

No Kubeflow Pipelines backend can run on this machine (it needs a Kubernetes cluster), so the test server
records every request and answers with the v2beta1 shapes that kfp.Client's generated API (kfp_server_api)
deserializes; the request bodies are checked against the same models.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import typer
import yaml
from typer.testing import CliRunner

from climbflow.cli_cluster import cron6, redact, register

REPO = Path(__file__).resolve().parents[2]
API = "/apis/v2beta1"
TOKEN = "s3cr3t-token-value"


class FakeKfp:
    """State + recorded requests of the fake backend."""

    def __init__(self):
        self.requests: list[dict] = []
        self.experiments = [{"experiment_id": "exp-1", "display_name": "climbflow", "namespace": ""}]
        self.recurring = [
            {"recurring_run_id": "rr-old", "display_name": "nightly", "experiment_id": "exp-1"},
            {"recurring_run_id": "rr-other", "display_name": "other", "experiment_id": "exp-1"},
        ]
        self.runs = [
            {
                "run_id": "run-a",
                "display_name": "first",
                "state": "SUCCEEDED",
                "created_at": "2026-01-01T00:00:00Z",
            },
            {
                "run_id": "run-b",
                "display_name": "second",
                "state": "FAILED",
                "created_at": "2026-01-02T00:00:00Z",
            },
        ]

    def handle(self, method: str, path: str, query: dict, body: dict | None) -> tuple[int, dict]:
        if (method, path) == ("GET", f"{API}/healthz"):
            return 200, {"multi_user": False, "pipeline_store": "database"}
        if (method, path) == ("GET", f"{API}/experiments"):
            flt = json.loads(query.get("filter", ["{}"])[0] or "{}")
            wanted = [
                p.get("stringValue") for p in flt.get("predicates", []) if p.get("key") == "display_name"
            ]
            found = [e for e in self.experiments if not wanted or e["display_name"] in wanted]
            return 200, {"experiments": found, "total_size": len(found)} if found else {}
        if (method, path) == ("POST", f"{API}/experiments"):
            exp = {"experiment_id": f"exp-{len(self.experiments) + 1}", **body}
            self.experiments.append(exp)
            return 200, exp
        if (method, path) == ("POST", f"{API}/runs"):
            return 200, {"run_id": "run-new", "state": "PENDING", **body}
        if (method, path) == ("GET", f"{API}/runs"):
            return 200, {"runs": self.runs, "total_size": len(self.runs)}
        if (method, path) == ("GET", f"{API}/recurringruns"):
            return 200, {"recurringRuns": self.recurring, "total_size": len(self.recurring)}
        if method == "DELETE" and path.startswith(f"{API}/recurringruns/"):
            rr_id = path.rsplit("/", 1)[1]
            self.recurring = [r for r in self.recurring if r["recurring_run_id"] != rr_id]
            return 200, {}
        if (method, path) == ("POST", f"{API}/recurringruns"):
            rr = {"recurring_run_id": f"rr-{len(self.requests)}", "status": "ENABLED", **body}
            self.recurring.append(rr)
            return 200, rr
        return 404, {"error": f"no route {method} {path}", "code": 5}


@pytest.fixture
def kfp_server(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # kfp reads ~/.config/kfp/context.json
    monkeypatch.setenv("KFP_TOKEN", TOKEN)
    state = FakeKfp()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append(
                {
                    "method": self.command,
                    "path": url.path,
                    "query": parse_qs(url.query),
                    "body": body,
                    "auth": self.headers.get("Authorization"),
                }
            )
            code, payload = state.handle(self.command, url.path, parse_qs(url.query), body)
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def _climb(*args):
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, [*args, "--params", str(REPO / "params.yaml")])


def _calls(state):
    return [(r["method"], r["path"]) for r in state.requests]


def test_submit_creates_a_run_with_the_compiled_spec_and_ui_parameters(kfp_server):
    host, state = kfp_server
    result = _climb("submit", "--host", host, "--param", "pretrain_epochs=3", "--param", "datasets=[ptbxl]")
    assert result.exit_code == 0, result.output
    assert "run-new" in result.output
    assert ("GET", f"{API}/healthz") == _calls(state)[0]
    post = next(r for r in state.requests if (r["method"], r["path"]) == ("POST", f"{API}/runs"))
    body = post["body"]
    from kfp_server_api.models import V2beta1Run

    assert set(body) <= set(V2beta1Run.attribute_map.values())
    assert body["experiment_id"] == "exp-1"
    # with a platform spec, kfp sends {"pipeline_spec": ..., "platform_spec": ...} (node pools, GPUs, Secrets)
    assert body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "climb-training"
    executors = body["pipeline_spec"]["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"][
        "executors"
    ]
    assert executors["exec-finetune"]["nodeSelector"]["labels"] == {"nvidia.com/gpu.present": "true"}
    assert body["runtime_config"]["parameters"] == {"pretrain_epochs": 3, "datasets": ["ptbxl"]}
    assert all(r["auth"] == f"Bearer {TOKEN}" for r in state.requests)
    assert TOKEN not in result.output


def test_submit_refuses_an_unknown_parameter_before_calling_the_backend(kfp_server):
    host, state = kfp_server
    result = _climb("submit", "--host", host, "--param", "epochz=3")
    assert result.exit_code == 2
    assert "epochz" in result.output and "pretrain_epochs" in result.output
    assert state.requests == []


def test_schedule_replaces_the_recurring_run_of_that_name_only(kfp_server):
    host, state = kfp_server
    result = _climb("schedule", "--host", host, "--cron", "0 3 * * 1", "--name", "nightly")
    assert result.exit_code == 0, result.output
    calls = _calls(state)
    assert ("DELETE", f"{API}/recurringruns/rr-old") in calls
    assert ("DELETE", f"{API}/recurringruns/rr-other") not in calls
    assert calls.index(("DELETE", f"{API}/recurringruns/rr-old")) < calls.index(
        ("POST", f"{API}/recurringruns")
    )
    body = next(
        r["body"] for r in state.requests if (r["method"], r["path"]) == ("POST", f"{API}/recurringruns")
    )
    from kfp_server_api.models import V2beta1RecurringRun

    assert set(body) <= set(V2beta1RecurringRun.attribute_map.values())
    assert body["display_name"] == "nightly"
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * 1"
    assert body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "climb-retraining"
    assert body["max_concurrency"] == "1" or body["max_concurrency"] == 1
    # idempotent: a second schedule replaces the one just created, leaving exactly one of that name
    assert _climb("schedule", "--host", host, "--cron", "0 3 * * 1", "--name", "nightly").exit_code == 0
    assert [r["display_name"] for r in state.recurring].count("nightly") == 1


def test_runs_lists_status(kfp_server):
    host, state = kfp_server
    result = _climb_runs(host)
    assert result.exit_code == 0, result.output
    assert "run-a" in result.output and "SUCCEEDED" in result.output and "FAILED" in result.output
    listed = next(r for r in state.requests if (r["method"], r["path"]) == ("GET", f"{API}/runs"))
    assert listed["query"]["sort_by"] == ["created_at desc"]


def _climb_runs(host):
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, ["runs", "--host", host])


def test_unreachable_backend_is_one_line_without_the_token(monkeypatch, tmp_path):
    import socket

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KFP_TOKEN", TOKEN)
    monkeypatch.setattr("time.sleep", lambda s: None)  # kfp retries healthz 5 times with sleeps
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _climb_runs(f"http://user:{TOKEN}@127.0.0.1:{port}")
    assert result.exit_code == 1
    assert "cannot reach Kubeflow Pipelines" in result.output
    assert TOKEN not in result.output


def test_redact_and_cron():
    assert redact("https://me:pw@kf.example/x") == "https://***@kf.example/x"
    assert cron6("0 3 * * 1") == "0 0 3 * * 1"
    assert cron6("5 0 3 * * 1") == "5 0 3 * * 1"
    with pytest.raises(typer.Exit):
        cron6("daily")


def test_compiled_parameters_are_what_the_ui_shows():
    spec = next(yaml.safe_load_all((REPO / "pipelines" / "compiled" / "retraining.yaml").read_text()))
    assert {"force", "gpu_count", "gpu_type", "overrides"} <= set(
        spec["root"]["inputDefinitions"]["parameters"]
    )
