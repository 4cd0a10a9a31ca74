"""Refresh the README's pictures (docs/images/) from a workspace where `bin/climb run` has run.

    .venv/bin/python scripts/screenshots.py [--params params.yaml] [--model climb-ptbxl] [--out docs/images]

Starts `mlflow server` on the workspace's tracking store (loopback, a free port) and photographs, with headless
Chromium (``/usr/bin/chromium``, network off except loopback): the experiment's runs, the latest evaluate run
(metrics with CIs, datasets), its ROC curve and report, the model registry with aliases, the lineage HTML of
``<model>@challenger``, the offline validation report and the compiled training pipeline's graph.
"""

from __future__ import annotations

import argparse
import html
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9"]
ML_VIEW = "workflowType=machine_learning"  # MLflow 3.17's "Model training" view (else it opens GenAI pages)


def shoot(url: str, out: Path, size: str = "1700,950", wait_ms: int = 25000) -> Path:
    """A screenshot of ``url`` once the page (or the MLflow app) has loaded its data."""
    with tempfile.TemporaryDirectory(prefix="climb-chromium-") as profile:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *OFFLINE]
        cmd += [f"--user-data-dir={profile}", f"--window-size={size}", f"--virtual-time-budget={wait_ms}"]
        subprocess.run([*cmd, f"--screenshot={out}", url], check=True, capture_output=True, timeout=300)
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return out


def pipeline_graph_html(compiled: Path) -> str:
    """The compiled pipeline's task graph as a self-contained SVG page: tasks in columns by dependency depth, a
    ``for each`` loop drawn as one box listing its inner tasks."""
    import yaml

    spec = next(yaml.safe_load_all(compiled.read_text()))
    components = spec["components"]

    def flatten(tasks: dict) -> dict[str, tuple[str, list[str]]]:
        """name -> (label, dependencies); an exit handler's tasks replace it, a loop becomes one node."""
        out, groups = {}, {}
        for name, task in tasks.items():
            dag = components[task["componentRef"]["name"]].get("dag")
            deps = list(task.get("dependentTasks", []))
            if dag and "parameterIterator" in task:
                inner = sorted(dag["tasks"], key=lambda n: len(dag["tasks"][n].get("dependentTasks", [])))
                out[name] = ("for each dataset: " + " → ".join(inner), deps)
            elif dag:
                inner = flatten(dag["tasks"])
                out.update(inner)
                groups[name] = [n for n in inner if not any(n in d for _, d in inner.values())]
            else:
                out[name] = (name, deps)
        return {n: (label, [x for d in deps for x in groups.get(d, [d])]) for n, (label, deps) in out.items()}

    nodes = _reduce(flatten(spec["root"]["dag"]["tasks"]))
    depth: dict[str, int] = {}

    def level(n: str) -> int:
        if n not in depth:
            depth[n] = 1 + max((level(d) for d in nodes[n][1] if d in nodes), default=-1)
        return depth[n]

    columns: dict[int, list[str]] = {}
    for n in sorted(nodes):
        columns.setdefault(level(n), []).append(n)
    box_w, box_h, gap_x, gap_y = 220, 50, 40, 24
    pos = {
        n: (20 + c * (box_w + gap_x), 70 + r * (box_h + gap_y))
        for c, ns in columns.items()
        for r, n in enumerate(ns)
    }
    width = 40 + len(columns) * (box_w + gap_x)
    height = 100 + max(len(ns) for ns in columns.values()) * (box_h + gap_y)
    svg = [
        f'<text x="20" y="36" font-size="18" font-weight="600">{html.escape(spec["pipelineInfo"]["name"])}'
        f" — {html.escape(spec['pipelineInfo'].get('description', ''))}</text>"
    ]
    for n, (_, deps) in nodes.items():
        for d in deps:
            if d in pos:
                (x1, y1), (x2, y2) = pos[d], pos[n]
                svg.append(
                    f'<line x1="{x1 + box_w}" y1="{y1 + box_h / 2}" x2="{x2}" y2="{y2 + box_h / 2}" '
                    'stroke="#7a8899" marker-end="url(#arrow)"/>'
                )
    for n, (label, _) in nodes.items():
        x, y = pos[n]
        fill = "#e8f1fb" if not label.startswith("for each") else "#eaf6ee"
        head, _, rest = label.partition(": ")
        lines = [head + ":", rest] if rest else [label]
        text = "".join(
            f'<tspan x="{x + 10}" dy="{0 if i == 0 else 17}">{html.escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        top = y + (21 if rest else 30)
        svg.append(
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="{fill}" stroke="#4a6a8a"/>'
            f'<text x="{x + 10}" y="{top}" font-size="13">{text}</text>'
        )
    marker = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#7a8899"/></marker></defs>'
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{compiled.name}</title></head>"
        f"<body style='margin:0;font-family:system-ui,sans-serif;background:#fff'>"
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"font-family='system-ui,sans-serif'>{marker}{''.join(svg)}</svg></body></html>"
    )


def _reduce(nodes: dict[str, tuple[str, list[str]]]) -> dict[str, tuple[str, list[str]]]:
    """Drop the dependencies implied by others (a -> c when a -> b -> c), so the picture shows the chain."""

    def ancestors(n: str) -> set[str]:
        deps = [d for d in nodes[n][1] if d in nodes]
        return set(deps).union(*(ancestors(d) for d in deps)) if deps else set()

    return {
        n: (label, [d for d in deps if not any(d in ancestors(o) for o in deps if o != d)])
        for n, (label, deps) in nodes.items()
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_mlflow(store: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(360):
        if proc.poll() is not None:
            raise SystemExit(f"mlflow server exited ({proc.returncode}); see {log}")
        try:
            urllib.request.urlopen(url + "/health", timeout=2).close()
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"mlflow server did not answer in 3 min; see {log}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--model", default="climb-ptbxl")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install -y chromium (or set $CHROMIUM)")
    from climbflow.config import load
    from climbflow.pipeline_runner import resolve_paths
    from climbflow.registry import lineage, tracking

    cfg = resolve_paths(load(args.params), args.params.resolve().parent)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    _, client = tracking.mlflow_client(cfg)
    exp = tracking.experiment_id(cfg)
    runs = client.search_runs([exp], order_by=["attributes.start_time DESC"], max_results=500)
    evaluate = next(
        (
            r
            for r in runs
            if r.data.tags.get("climb.stage") == "evaluate" and r.data.tags.get("climb.cache_hit") == "false"
        ),
        None,
    )
    validate = next((r for r in runs if r.data.tags.get("climb.stage") == "validate"), None)
    if evaluate is None:
        raise SystemExit("no evaluate run recorded in this workspace: run `bin/climb run` first")

    with tempfile.TemporaryDirectory(prefix="climb-shots-") as tmp:
        tmp = Path(tmp)
        graph = tmp / "training.html"
        graph.write_text(pipeline_graph_html(REPO / "pipelines" / "compiled" / "training.yaml"))
        shoot(graph.as_uri(), out / "pipeline-graph.png", size="1600,250")
        page = tmp / "lineage.html"
        page.write_text(lineage.to_html(lineage.lineage(cfg, f"{args.model}@challenger")))
        shoot(page.as_uri(), out / "lineage.png", size="1300,900")
        if validate is not None:
            report = Path(validate.data.tags["climb.output_uri"]) / "validation.html"
            if report.is_file():
                shoot(report.as_uri(), out / "validation-report.png", size="1200,900")
        proc, url = _start_mlflow(tracking.tracking_uri(cfg), tmp / "mlflow.log")
        try:
            run = f"{url}/#/experiments/{exp}/runs/{evaluate.info.run_id}"
            shoot(f"{url}/#/experiments/{exp}?{ML_VIEW}", out / "mlflow-runs.png")
            shoot(f"{run}?{ML_VIEW}", out / "mlflow-evaluate-run.png", size="1700,1700")
            target = evaluate.data.tags.get("climb.name")
            for name in ("report.md", f"roc_{target}.png", f"confusion_{target}.png"):
                shoot(
                    f"{run}/artifacts/report/{name}?{ML_VIEW}", out / f"mlflow-artifact-{Path(name).stem}.png"
                )
            shoot(f"{url}/#/models/{args.model}?{ML_VIEW}", out / "mlflow-registry.png")
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
