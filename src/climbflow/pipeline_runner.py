"""Compile the KFP pipelines, and run the training pipeline on the embedded default with ``kfp.local``.

``climb run`` = sample data if missing -> parent MLflow run -> the very same pipeline graph that the Kubeflow UI
runs, executed by ``kfp.local.SubprocessRunner(use_venv=False)`` -> results read back from MLflow.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from climbflow.config import Params
from climbflow.kfp_local_print import print_restored
from climbflow.stages.base import Workspace

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]


def _import_pipelines():
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from pipelines import training

    return training


PIPELINES = ("training", "retraining", "promotion")


def compile_training(params: Params, out: Path, pipeline: str = "training") -> Path:
    """Compile one pipeline (``training`` | ``retraining`` | ``promotion``) to the YAML users upload."""
    import importlib

    from kfp import compiler

    if pipeline not in PIPELINES:
        raise ValueError(f"unknown pipeline {pipeline!r}; pipelines: {list(PIPELINES)}")
    _import_pipelines()  # puts the repository root on sys.path
    module = importlib.import_module(f"pipelines.{pipeline}")
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(module.build(params), str(out))
    return out


def compile_all(params: Params, out_dir: Path) -> list[Path]:
    """``<out_dir>/<pipeline>.yaml`` for every pipeline (what `climb compile` writes)."""
    return [compile_training(params, Path(out_dir) / f"{name}.yaml", name) for name in PIPELINES]


def enable_caching_everywhere(path: Path) -> None:
    """Turn KFP caching on for every task of the compiled YAML, sub-DAGs included (the pipelines compile with
    it off, and kfp.Client's ``enable_caching`` rewrites the root DAG's tasks only)."""
    import yaml

    docs = list(yaml.safe_load_all(path.read_text()))
    spec = docs[0]
    for comp in [spec["root"], *spec.get("components", {}).values()]:
        for task in comp.get("dag", {}).get("tasks", {}).values():
            if "executorLabel" in spec["components"][task["componentRef"]["name"]]:
                task["cachingOptions"] = {"enableCache": True}
    path.write_text(yaml.safe_dump_all(docs, sort_keys=True))


def resolve_paths(params: Params, base: Path) -> Params:
    """Make the workspace root and local dataset sources absolute (components run in other directories)."""
    from climbflow.config import parse
    from climbflow.store.uri import is_s3

    data = params.to_dict()
    root = data["workspace"]["root"]
    if not is_s3(root):  # an s3:// workspace is shared as is
        data["workspace"]["root"] = str(Path(root) if Path(root).is_absolute() else (base / root).resolve())
    for ds in data["datasets"].values():
        src = ds["source"]
        if not is_s3(src) and not Path(src).is_absolute():
            ds["source"] = str((base / src).resolve())
    return parse(data)


def ensure_sample_data(params: Params) -> list[str]:
    """Write the sample copy of each enabled dataset whose source is missing and which has a sample writer."""
    from climbflow import sampledata
    from climbflow.store.uri import is_s3

    written = []
    for name in params.enabled_datasets():
        source = params.datasets[name].source
        if is_s3(source) or Path(source).exists():
            continue
        n = params.sample_data.records.get(name)
        if n is None or name not in sampledata.WRITERS:
            raise FileNotFoundError(
                f"datasets.{name}.source = {source}: not found, and no sample data is configured for it "
                f"(point it at your copy of {name} in its real layout; see `climb datasets`)"
            )
        log.info("writing sample %s (%d records) to %s", name, n, source)
        sampledata.write(
            name, Path(source), n, seed=params.seed, shuffle_labels=params.sample_data.shuffle_labels
        )
        written.append(name)
    return written


@dataclass
class RunOutcome:
    pipeline_run_id: str
    parent_run_id: str
    seconds: float
    results: list[dict]
    tracking_uri: str
    log_path: Path
    experiment_id: str | None = None


class PipelineFailed(RuntimeError):
    """A pipeline task failed; the message carries the failing task's last log lines."""


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SHOW = re.compile(r"^task (started|done|FAILED):|Pipeline .* finished|StageFailed|ERROR|FAILED")
# kfp.local's own task lines name tasks by their DAG key ('pretrain-2'); announce_tasks prints readable ones
_HIDE = re.compile(r"Executing task|Task '[^']*' (finished with status|cache hit)")
_ITEM_KEYS = ("dataset", "target", "modality")  # the inputs that say what a task works on


class _Filter(io.TextIOBase):
    """Everything to the log file; to the console only task progress lines (or everything if verbose)."""

    def __init__(self, log_file, console, verbose: bool):
        self.log_file, self.console, self.verbose = log_file, console, verbose
        self.pending = ""
        self.lock = threading.Lock()  # kfp.local runs parallel tasks in threads

    def write(self, text: str) -> int:
        from climbflow.logs import redact_text

        n, text = len(text), redact_text(text)  # the executor input carries params (URLs with credentials)
        with self.lock:
            self.log_file.write(text)
            self.pending += text
            *lines, self.pending = self.pending.split("\n")
            for line in lines:
                plain = _ANSI.sub("", line)
                if self.verbose or (_SHOW.search(plain) and not _HIDE.search(plain)):
                    self.console.write(plain.strip() + "\n")
        return n

    def flush(self) -> None:
        self.log_file.flush()
        self.console.flush()


@contextlib.contextmanager
def console_filter(log_path: Path, verbose: bool):
    """Send kfp.local's (very chatty) output to ``log_path``; show progress lines on the console."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as fh, contextlib.redirect_stdout(_Filter(fh, sys.__stdout__, verbose)):
        yield


def task_label(display_name: str, arguments: dict) -> str:
    """'ingest ptbxl': the task's display name plus the dataset / target / modality it works on, unless the
    name already holds it (a ParallelFor body's display name is fixed at compile time, without the loop item)."""
    words = display_name.split()
    items = [arguments[k] for k in _ITEM_KEYS if isinstance(arguments.get(k), str) and arguments[k]]
    return " ".join(words + [item for item in items[:1] if item not in words])


@contextlib.contextmanager
def announce_tasks():
    """While kfp.local runs a pipeline, write one line to stdout as each task starts and ends, named by
    :func:`task_label` (``task started: ingest ptbxl`` ... ``task done: ingest ptbxl (3.1 s)``)."""
    from kfp.local import status
    from kfp.local.orchestrator import task_executor
    from kfp.local.orchestrator.orchestrator_utils import OrchestratorUtils

    original = task_executor.execute_single_task

    def execute(**kwargs):
        spec = kwargs["task_spec"]
        arguments = OrchestratorUtils.make_task_arguments(
            task_inputs_spec=spec.inputs, io_store=kwargs["io_store"]
        )
        label = task_label(spec.task_info.name or kwargs["task_name"], arguments)
        sys.stdout.write(f"task started: {label}\n")
        start = time.perf_counter()
        outputs, task_status = original(**kwargs)
        word = "done" if task_status == status.Status.SUCCESS else "FAILED"
        sys.stdout.write(f"task {word}: {label} ({time.perf_counter() - start:.1f} s)\n")
        return outputs, task_status

    task_executor.execute_single_task = execute
    try:
        with print_restored():
            yield
    finally:
        task_executor.execute_single_task = original


def failure_excerpt(log_path: Path, lines: int = 60) -> str:
    """What the failed task said after kfp's executor-input dump (where the stage's error message is)."""
    if not log_path.exists():
        return ""
    text = _ANSI.sub("", log_path.read_text(errors="replace")).splitlines()
    end = next((i for i, line in enumerate(text) if "finished with status FAILURE" in line), len(text) - 1)
    dump_ends = [i for i in range(end) if text[i].strip() == "}"]
    start = max(dump_ends[-1] + 1 if dump_ends else 0, end - lines)
    return "\n".join(line for line in text[start : end + 1] if line.strip())


def run_local(params: Params, verbose: bool = False, standardize_fanout: bool = False) -> RunOutcome:
    """Run the training pipeline with kfp.local on this machine; returns results read back from MLflow.

    On one machine standardize runs its shard ranges in a process pool inside one task (``standardize_fanout``
    False); on a cluster the compiled pipeline fans them out as a ParallelFor. The store is the same either way.
    """
    cluster = params.cluster.model_copy(update={"standardize_fanout": standardize_fanout})
    params = params.model_copy(update={"cluster": cluster})
    import warnings

    from kfp import local

    from climbflow.registry import tracking

    # SubprocessRunner warns that our image is "non-Python"; on one machine the package is installed here.
    warnings.filterwarnings("ignore", message="You may be attemping to run a task", category=RuntimeWarning)
    warnings.filterwarnings(
        "ignore", message=".*have no effect in the current local runner", category=UserWarning
    )

    ws = Workspace.from_params(params)
    training = _import_pipelines()
    pipeline_run_id = f"local-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    parent = tracking.start_pipeline_run(params, pipeline_run_id)
    start = time.perf_counter()
    status = "FAILED"
    log_path = ws.local_root / "logs" / f"{pipeline_run_id}.log"
    try:
        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(ws.local_root / "kfp"))
        pipeline = training.build(params)
        with console_filter(log_path, verbose), announce_tasks():
            pipeline(  # the params are compiled in (training.build(params)); gpu_count is a cluster setting:
                # on this machine pretrain keeps its own devices / strategy
                tracking_json=json.dumps({"parent_run_id": parent, "pipeline_run_id": pipeline_run_id}),
                datasets=params.enabled_datasets(),
                overrides={
                    "pretrain.devices": params.pretrain.devices,
                    "pretrain.strategy": params.pretrain.strategy,
                },
            )
        status = "FINISHED"
    except Exception as exc:
        raise PipelineFailed(f"{exc}\n{failure_excerpt(log_path)}\nfull log: {log_path}") from None
    finally:
        seconds = time.perf_counter() - start
        results = collect_results(params, pipeline_run_id, parent)
        summary = {f"{r['target']}.{k}": v for r in results for k, v in r["metrics"].items() if v == v}
        tracking.finish_pipeline_run(params, parent, status, summary | {"pipeline_seconds": seconds})
    return RunOutcome(
        pipeline_run_id,
        parent,
        seconds,
        results,
        tracking.tracking_uri(params),
        log_path,
        tracking.experiment_id(params),
    )


def collect_results(params: Params, pipeline_run_id: str, parent_run_id: str) -> list[dict]:
    """Log child runs for cached stages, then return the evaluate rows of the results table."""
    from climbflow.tasks import log_cached

    rows = []
    for entry in log_cached(params, pipeline_run_id, parent_run_id):
        if entry["stage"] != "evaluate":
            continue
        report = entry["report"]
        model = entry["extra"].get("registered_model") or {}
        rows.append(
            {
                "target": entry["name"],
                "task": report.get("task", "multilabel"),
                "metrics": report["metrics"] | {"n_test": report["n_test"]},
                "ci": report.get("ci", {}),
                "data_version": report["data_version"],
                "model": f"{model['name']}/{model['version']}" if model else "",
                "cache_hit": entry["cache_hit"],
            }
        )
    return sorted(rows, key=lambda r: r["target"])
