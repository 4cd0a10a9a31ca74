"""MLflow tracking: one parent run per pipeline run, one child run per stage (params, metrics, data versions,
git commit, reports), and registration of evaluated models as ``challenger``. All MLflow calls live here.

Faults: an unreachable tracking server fails the stage fast with :class:`TrackingUnavailable` (one ``/health``
probe per process, ``CLIMB_MLFLOW_PROBE_TIMEOUT_S``), nothing is buffered. Run creation is idempotent: the
parent run is found again by ``climb.pipeline_run_id``, a stage's child run by (parent, stage, name, output), and
a registration cut short (model version created, alias or tags missing) is completed, so a retried task never
duplicates runs or model versions.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from climbflow.config import Params
from climbflow.stages.base import StageFailed, StageResult, Workspace
from climbflow.store import uri as uris
from climbflow.store.faults import fault_point
from climbflow.store.uri import redact

log = logging.getLogger(__name__)
CHALLENGER = "challenger"
# The experiment kind MLflow 3's UI reads to open runs rather than GenAI traces; the 3.17 UI instead goes by the
# URL's ``workflowType`` (the links climbflow prints: cli_registry.run_url) or the user's "Model training" toggle
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
PROBE_TIMEOUT_ENV = "CLIMB_MLFLOW_PROBE_TIMEOUT_S"
# MLflow's own HTTP retries (defaults 7 retries, backoff factor 2, 120 s timeout: minutes before giving up);
# bounded here unless the user set them
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}
_reachable: set[str] = set()


class TrackingUnavailable(StageFailed):
    """The MLflow tracking server does not answer; the message names it (credentials redacted)."""


def tracking_uri(params: Params) -> str:
    """``workspace.tracking_uri``, else ``$MLFLOW_TRACKING_URI`` (a cluster's ConfigMap sets it), else the
    embedded sqlite database in the workspace. A workspace shared by pods (``s3://``) needs a server."""
    uri = params.workspace.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    ws = Workspace.from_params(params)
    if uri:
        return uri
    if ws.is_s3:
        raise TrackingUnavailable(
            f"workspace.root is {redact(ws.root)} (shared by every pod), but no MLflow tracking server is set: "
            "set workspace.tracking_uri or $MLFLOW_TRACKING_URI (e.g. from the climbflow-config ConfigMap); a "
            "sqlite file in one pod's scratch would lose every run"
        )
    return f"sqlite:///{ws.local_root / 'mlflow.db'}"


def artifact_location(params: Params) -> str | None:
    """Explicit location, else local for the embedded default; a tracking server decides its own (None)."""
    if params.workspace.artifact_location:
        return params.workspace.artifact_location
    if tracking_uri(params).startswith(("http://", "https://")):
        return None
    return str(Workspace.from_params(params).local_root / "mlartifacts")


def mlflow_client(params: Params):
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    from mlflow.tracking import MlflowClient

    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    Workspace.from_params(params).local_root.mkdir(parents=True, exist_ok=True)
    uri = tracking_uri(params)
    check_reachable(uri)
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    # mlflow exports it for subprocesses; $MLFLOW_TRACKING_URI is the user's (or the ConfigMap's) setting, so
    # put it back: a second config in this process, or a child, must not inherit this workspace's database
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before
    return mlflow, MlflowClient(uri)


def check_reachable(uri: str) -> None:
    """Fail fast (seconds, not MLflow's minutes of retries) when an http(s) tracking server does not answer."""
    if not uri.startswith(("http://", "https://")) or uri in _reachable:
        return
    import urllib.error
    import urllib.request

    timeout = float(os.environ.get(PROBE_TIMEOUT_ENV, 5))
    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout).close()
    except urllib.error.HTTPError:
        pass  # it answers (an auth proxy may refuse /health): reachable
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingUnavailable(
            f"MLflow tracking server {redact(uri)} is unreachable ({type(exc).__name__}: {reason}); "
            "nothing was logged. Start it or fix workspace.tracking_uri, then re-run the same command "
            "(runs are found again, not duplicated)"
        ) from None
    _reachable.add(uri)


def experiment_id(params: Params) -> str:
    """The experiment's id, created if needed, marked as a model-training experiment (:data:`EXPERIMENT_KIND`;
    an older experiment without the tag gets it, a kind the user chose is kept)."""
    mlflow, client = mlflow_client(params)
    exp = client.get_experiment_by_name(params.workspace.experiment)
    if exp is None:
        return client.create_experiment(
            params.workspace.experiment, artifact_location=artifact_location(params), tags=EXPERIMENT_KIND
        )
    for key, value in EXPERIMENT_KIND.items():
        if key not in exp.tags:
            client.set_experiment_tag(exp.experiment_id, key, value)
    return exp.experiment_id


def git_commit() -> str:
    if os.environ.get("CLIMB_GIT_COMMIT"):
        return os.environ["CLIMB_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _common_tags(pipeline_run_id: str) -> dict[str, str]:
    return {
        "climb.pipeline_run_id": pipeline_run_id,
        "climb.git_commit": git_commit(),
        "climb.image": os.environ.get("CLIMB_IMAGE", "local"),
    }


def start_pipeline_run(params: Params, pipeline_run_id: str, run_name: str | None = None) -> str:
    """Create the parent run of one pipeline run (or find it again on a retry); returns its MLflow run id.

    Its name says when, which datasets (pretrain -> targets) and which params changed since the previous
    pipeline run (:func:`run_title`; ``run_name`` goes first); :func:`finish_pipeline_run` adds what was cached.
    """
    mlflow, client = mlflow_client(params)
    existing = [
        r
        for r in client.search_runs(
            [experiment_id(params)],
            filter_string=f"tags.`climb.pipeline_run_id` = '{_quote(pipeline_run_id)}'",
            max_results=1000,
        )
        if "mlflow.parentRunId" not in r.data.tags
    ]
    if existing:
        first = sorted(existing, key=lambda r: r.info.start_time)[0]
        run_id = first.info.run_id
        if first.info.status != "RUNNING":
            client.update_run(run_id, status="RUNNING")
        log.info("pipeline run %s: reusing MLflow run %s", pipeline_run_id, run_id)
        return run_id
    flat = _flatten(params.to_dict())
    changed = changed_params(_previous_params(client, params), flat)
    title = run_title(params, time.strftime("%Y-%m-%d %H:%M"), changed)
    name = f"{run_name} · {title}" if run_name else title
    run = client.create_run(experiment_id(params), run_name=name, tags=_common_tags(pipeline_run_id))
    for i in range(0, len(flat), 100):
        batch = dict(list(flat.items())[i : i + 100])
        client.log_batch(
            run.info.run_id,
            params=[
                mlflow.entities.Param(k, redact(v) if isinstance(v, str) else v) for k, v in batch.items()
            ],
        )
    return run.info.run_id


def finish_pipeline_run(params: Params, run_id: str, status: str, metrics: dict[str, float]) -> None:
    """Log the run's summary metrics, end it, and add to its name how many stage runs came from the cache."""
    mlflow, client = mlflow_client(params)
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    hits = [r.data.tags.get("climb.cache_hit") == "true" for r in child_runs(params, run_id)]
    name = client.get_run(run_id).info.run_name or ""
    if hits and " · stages " not in name:
        client.update_run(run_id, name=f"{name} · stages {cache_summary(hits)}")
    client.set_terminated(run_id, status=status)


def run_title(params: Params, when: str, changed: list[str] | None) -> str:
    """``<when> · <pretrain datasets> → <targets> · <what changed>`` (``changed`` None: no earlier run)."""
    pretrain = "+".join(params.enabled_datasets()) or "none"
    targets = "+".join(params.finetune.targets) or "none"
    if changed is None:
        what = "first run"
    elif not changed:
        what = "same params"
    else:
        more = f" +{len(changed) - 3} more" if len(changed) > 3 else ""
        what = "changed " + ", ".join(changed[:3]) + more
    return f"{when} · {pretrain} → {targets} · {what}"


def cache_summary(hits: list[bool]) -> str:
    """``all cached`` / ``all new`` / ``2 new, 5 cached`` from the cache-hit flag of each stage run."""
    cached = sum(hits)
    if cached == len(hits):
        return "all cached"
    return "all new" if not cached else f"{len(hits) - cached} new, {cached} cached"


def changed_params(before: dict[str, str] | None, after: dict[str, Any]) -> list[str] | None:
    """Sorted keys whose logged value differs (workspace paths excluded: where, not what); None: no run before."""
    if before is None:
        return None
    now = {k: str(redact(v) if isinstance(v, str) else v) for k, v in after.items()}
    keys = (set(before) | set(now)) - {k for k in set(before) | set(now) if k.startswith("workspace.")}
    return sorted(k for k in keys if before.get(k) != now.get(k))


def _previous_params(client: Any, params: Params) -> dict[str, str] | None:
    """The params of the latest earlier pipeline (parent) run of the experiment, or None."""
    runs = client.search_runs(
        [experiment_id(params)],
        filter_string="tags.`climb.pipeline_run_id` != ''",
        order_by=["attributes.start_time DESC"],
        max_results=200,
    )
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return dict(parents[0].data.params) if parents else None


def child_runs(params: Params, parent_run_id: str) -> list[Any]:
    mlflow, client = mlflow_client(params)
    return client.search_runs(
        [experiment_id(params)],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
        max_results=1000,
    )


def log_stage(params: Params, result: StageResult, parent_run_id: str, pipeline_run_id: str) -> str:
    """A child run for one stage execution (also for a cache hit, tagged as such); returns its run id."""
    mlflow, client = mlflow_client(params)
    report = result.report
    tags = _common_tags(pipeline_run_id) | {
        "mlflow.parentRunId": parent_run_id,
        "climb.stage": result.stage,
        "climb.name": result.name,
        "climb.output_uri": redact(result.uri),
        "climb.cache_hit": str(result.cache_hit).lower(),
    }
    for key in ("snapshot_id", "source_uri", "data_version", "modality", "passed", "data_docs", "task"):
        if report.get(key) is not None:
            tags[f"climb.{key}"] = str(report[key])
    for key in ("model", "pretrained", "standardized"):  # exact links to the upstream stage outputs (lineage)
        if isinstance(report.get(key), str) and result.stage in ("finetune", "evaluate"):
            tags[f"climb.input.{key}"] = redact(report[key])
    if "data_version" in result.extra:
        tags["climb.data_version"] = result.extra["data_version"]["md5"]
        tags["climb.dvc_remote"] = result.extra["data_version"]["remote"]
    for dataset, ver in (report.get("data_versions") or report.get("pretrain_data_versions") or {}).items():
        tags[f"climb.data_version.{dataset}"] = ver
    run_id = _find_child(client, params, parent_run_id, tags)
    if run_id is None:
        run = client.create_run(experiment_id(params), run_name=f"{result.stage}:{result.name}", tags=tags)
        run_id = run.info.run_id
    else:  # a retried task: complete the run the interrupted attempt created instead of adding another
        log.info("%s[%s]: reusing MLflow run %s", result.stage, result.name, run_id)
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
    section = {
        "pretrain": params.pretrain,
        "finetune": params.finetune,
        "evaluate": params.evaluate,
        "standardize": params.standardize,
        "validate": params.validate_,
    }.get(result.stage)
    if section is not None:
        flat = _flatten(section.model_dump(mode="json"))
        client.log_batch(run_id, params=[mlflow.entities.Param(k, v) for k, v in list(flat.items())[:100]])
    metrics = {k: v for k, v in _flatten(report.get("metrics", {})).items()} | ci_metrics(report)
    for key in ("n_samples", "n_quarantined", "n_records", "n_rejected", "n_files", "total_bytes", "n_test"):
        if key in report:
            metrics[key] = report[key]
    metrics["stage_seconds"] = result.seconds
    client.log_batch(
        run_id,
        metrics=[mlflow.entities.Metric(k, float(v), 0, 0) for k, v in metrics.items() if _is_number(v)],
    )
    inputs = dataset_inputs(result)
    _log_dataset_inputs(client, run_id, inputs)
    if result.stage == "standardize":  # the run list's Dataset column: which data the pipeline run used
        _log_dataset_inputs(client, parent_run_id, inputs)
    if not result.cache_hit:
        with _report_files(result.uri) as out:
            for path in sorted(out.iterdir()):
                if path.is_file() and path.suffix in REPORT_SUFFIXES:
                    client.log_artifact(run_id, str(path), artifact_path="report")
            if (out / "data_docs").is_dir():
                client.log_artifacts(run_id, str(out / "data_docs"), artifact_path="data_docs")
    if result.stage == "evaluate" and params.evaluate.register_model:
        if not result.cache_hit or not _link_registered(params, result, run_id):
            _register_challenger(params, result, run_id, tags)  # also completes an interrupted registration
    client.set_terminated(run_id, status="FINISHED")
    return run_id


REPORT_SUFFIXES = {".json", ".md", ".png", ".html", ".pt"}


def ci_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The bootstrap CIs of a report as metrics, ``<metric>_ci_low`` / ``<metric>_ci_high`` (NaN bounds left out),
    so they can be compared across runs and charted like the point estimates."""
    out: dict[str, float] = {}
    for key, interval in (report.get("ci") or {}).items():
        for bound in ("low", "high"):
            value = interval.get(bound)
            if _is_number(value) and value == value:
                out[f"{key}_ci_{bound}"] = float(value)
    return out


def dataset_inputs(result: StageResult) -> list[dict[str, Any]]:
    """The datasets a stage run read, for MLflow's dataset inputs: name, digest (the DVC md5 of the standardized
    store), source, context (``standardized`` / ``pretrain`` / ``train`` / ``test``) and a profile (split sizes)."""
    report, stage = result.report, result.stage
    if stage == "standardize":
        version = result.extra.get("data_version") or {}
        keys = ("splits", "n_samples", "n_patients", "n_quarantined")
        profile = {k: report[k] for k in keys if k in report}
        digest = version.get("md5") or report.get("snapshot_id") or "unknown"
        profile["dvc_remote"] = version.get("remote")
        return [_input(report["dataset"], digest, result.uri, "standardized", profile)]
    if stage not in ("pretrain", "finetune", "evaluate"):
        return []
    versions = report.get("data_versions") or report.get("pretrain_data_versions") or {}
    out = [_input(name, ver, f"dvc:{ver}", "pretrain", {}) for name, ver in sorted(versions.items())]
    if stage == "finetune":
        version = report["data_version"]
        out.append(_input(report["target"], version, f"dvc:{version}", "train", {}))
    elif stage == "evaluate":
        profile = {"split": "test", "n_test": report.get("n_test")}
        source = report.get("standardized", "")
        out.append(_input(report["target"], report["data_version"], source, "test", profile))
    return _merge_roles(out)


def _merge_roles(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One input per (name, digest) (MLflow keeps one per run): contexts joined (``pretrain,test``), the later
    role's source and profile kept."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for i in inputs:
        key = (i["name"], i["digest"])
        if key in merged:
            i = i | {"context": f"{merged[key]['context']},{i['context']}"}
        merged[key] = i
    return list(merged.values())


def _input(name: str, digest: str, source: str, context: str, profile: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "digest": str(digest),
        "source": redact(source),
        "context": context,
        "profile": profile,
    }


def _log_dataset_inputs(client: Any, run_id: str, inputs: list[dict[str, Any]]) -> None:
    """Log :func:`dataset_inputs` with ``mlflow.data`` entities (the run page's Datasets column and panel)."""
    import json

    from mlflow.entities import Dataset, DatasetInput, InputTag

    if not inputs:
        return
    logged = [
        DatasetInput(
            Dataset(
                name=i["name"],
                digest=i["digest"][:36],
                source_type="climbflow_store",
                source=json.dumps({"uri": i["source"], "dvc_md5": i["digest"]}),
                profile=json.dumps({k: v for k, v in i["profile"].items() if v is not None}, sort_keys=True),
            ),
            tags=[InputTag("mlflow.data.context", i["context"])],
        )
        for i in inputs
    ]
    client.log_inputs(run_id, datasets=logged)


@contextlib.contextmanager
def _report_files(uri: str) -> Iterator[Path]:
    """A local folder with a stage output's report files (top level) and ``data_docs/``: the output itself, or,
    for ``s3://``, just those files downloaded into a temp folder (not the shards)."""
    if not uris.is_s3(uri):
        yield Path(uri)
        return
    fs = uris.s3_filesystem()
    with tempfile.TemporaryDirectory(prefix="climb-report-") as tmp:
        for info in fs.ls(uri, detail=True):
            name = info["name"].rstrip("/").rsplit("/", 1)[-1]
            if info["type"] == "file" and Path(name).suffix in REPORT_SUFFIXES:
                fs.get_file(info["name"], str(Path(tmp) / name))
            elif info["type"] == "directory" and name == "data_docs":
                fs.get(info["name"].rstrip("/") + "/", str(Path(tmp) / name), recursive=True)
        yield Path(tmp)


def _register_challenger(params: Params, result: StageResult, run_id: str, tags: dict[str, str]) -> None:
    """Log the finetuned model (signature + input example) to the evaluate run and alias it ``challenger``."""
    import numpy as np
    import torch

    from climbflow.stages.base import read_report
    from climbflow.train.fit import load_model

    mlflow, client = mlflow_client(params)
    report = result.report
    fine = read_report(report["model"])
    net = load_model(uris.local_copy(report["model"]) / fine["model"])
    shape = _sample_shape(report)
    example = np.zeros((2, *shape), dtype=np.float32)  # batch of 2 keeps the batch dim dynamic in pt2
    with torch.no_grad():
        output = net(torch.from_numpy(example)).numpy()
    from mlflow.models import infer_signature

    name = model_name(report["target"])
    earlier = _version_of_run(client, name, run_id)
    if earlier is not None:  # an interrupted attempt registered it already: finish that version
        version = earlier
    else:
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pytorch.log_model(
                net,
                name="model",
                signature=infer_signature(example, output),
                input_example=example,
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
                registered_model_name=name,
            )
        version = str(info.registered_model_version)
        fault_point("registry.register")  # test-only crash hook, inert by default
    client.set_registered_model_alias(name, CHALLENGER, version)
    from climbflow.registry.evidence import test_split_hash, validation_verdicts

    datasets = [*report.get("pretrain_data_versions", {}), report["target"]]
    verdicts = validation_verdicts(params, tags["climb.pipeline_run_id"], datasets)
    split = test_split_hash(report["standardized"])
    for key, value in challenger_tags(report, result.uri, tags, test_split=split, verdicts=verdicts).items():
        client.set_model_version_tag(name, version, key, value)
    client.set_tag(run_id, "climb.registered_model", f"{name}/{version}")
    result.extra["registered_model"] = {"name": name, "version": version, "alias": CHALLENGER}
    log.info("registered %s version %s as @%s", name, version, CHALLENGER)


def challenger_tags(
    report: dict[str, Any],
    evaluation_uri: str,
    run_tags: dict[str, str],
    *,
    test_split: str,
    verdicts: dict[str, str],
) -> dict[str, str]:
    """The version tags of a registered challenger (an evaluate report): what the promotion gate compares and
    lineage starts from. Metrics (``climb.metric.*``), sub-task metrics (``climb.subtask_auc.<class>``), the task,
    the frozen test split hash, the data version of every dataset behind the model and its validation verdicts,
    and ``climb.quality`` (``ok`` / ``uncertain`` / ``below_chance``: the primary metric's CI against chance, see
    :mod:`climbflow.evaluate.quality`) with ``climb.quality.reasons``, so a below-chance model is never promoted
    by accident.
    """
    from climbflow.evaluate.quality import assess
    from climbflow.registry.evidence import overall_verdict

    target = report["target"]
    data_versions = {**report.get("pretrain_data_versions", {}), target: report["data_version"]}
    out = {
        "climb.target": target,
        "climb.task": str(report.get("task", "multilabel")),
        "climb.data_version": report["data_version"],
        "climb.pipeline_run_id": run_tags["climb.pipeline_run_id"],
        "climb.git_commit": run_tags["climb.git_commit"],
        "climb.image": run_tags.get("climb.image", ""),
        "climb.evaluation_uri": redact(evaluation_uri),
        "climb.n_test": str(report.get("n_test", "")),
        "climb.test_split_hash": test_split,
        "climb.validation": overall_verdict(verdicts),
        **{f"climb.validation.{ds}": v for ds, v in verdicts.items()},
        **{f"climb.data_version.{ds}": v for ds, v in data_versions.items()},
        **{f"climb.metric.{k}": f"{v:.6g}" for k, v in report["metrics"].items() if _is_number(v)},
        **{
            f"climb.subtask_auc.{k}": f"{v:.6g}"
            for k, v in (report.get("per_class_auc") or {}).items()
            if _is_number(v) and v == v
        },
    }
    ci = report.get("ci") or {}
    n_patients = next((c["n_patients"] for c in ci.values() if c.get("n_patients") is not None), None)
    quality = report.get("quality") or assess(out["climb.task"], report["metrics"], ci, n_patients)
    out["climb.quality"] = quality["verdict"]
    out["climb.quality.reasons"] = "; ".join(quality["reasons"])[:4000]
    for key, interval in ci.items():
        if _is_number(interval.get("low")) and _is_number(interval.get("high")):
            out[f"climb.ci.{key}"] = f"{interval['low']:.6g},{interval['high']:.6g}"
    return out


def model_name(target: str) -> str:
    return f"climb-{target}"


def _link_registered(params: Params, result: StageResult, run_id: str) -> bool:
    """A cached evaluation: point at the model version registered when it first ran (by its output URI), and at
    the run that made the metrics and artifacts (``climb.source_run_id`` + a note shown in the MLflow UI), so the
    cached run is not an empty one. False when there is no such version (the run that evaluated it died before
    registering): the caller registers it."""
    mlflow, client = mlflow_client(params)
    name = model_name(result.report["target"])
    for mv in client.search_model_versions(f"name = '{_quote(name)}'"):
        if mv.tags.get("climb.evaluation_uri") == redact(result.uri):
            client.set_tag(run_id, "climb.registered_model", f"{name}/{mv.version}")
            result.extra["registered_model"] = {"name": name, "version": str(mv.version)}
            source = mv.run_id if mv.run_id and mv.run_id != run_id else None
            if source:
                client.set_tag(run_id, "climb.source_run_id", source)
                client.set_tag(
                    run_id,
                    "mlflow.note.content",
                    f"Cache hit: this evaluation was reused, not recomputed. Its metrics are copied here; the "
                    f"report, plots and logged model are in run {source} (model {name}/{mv.version}, output "
                    f"{redact(result.uri)}).",
                )
            return True
    return False


def _version_of_run(client: Any, name: str, run_id: str) -> str | None:
    """The version of ``name`` registered from ``run_id`` already (an interrupted registration), or None."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.search_model_versions(f"name = '{_quote(name)}' and run_id = '{run_id}'")
    except MlflowException:
        return None
    return str(min(int(mv.version) for mv in found)) if found else None


def _find_child(client: Any, params: Params, parent_run_id: str, tags: dict[str, str]) -> str | None:
    """The child run of ``parent_run_id`` for the same stage, name and output (a retried task), if any."""
    keys = ("climb.stage", "climb.name", "climb.output_uri")
    runs = client.search_runs(
        [experiment_id(params)],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
        max_results=1000,
    )
    same = [r for r in runs if all(r.data.tags.get(k) == tags[k] for k in keys)]
    return sorted(same, key=lambda r: r.info.start_time)[0].info.run_id if same else None


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _sample_shape(report: dict[str, Any]) -> list[int]:
    from climbflow.store.format import labels_of

    return labels_of(report["standardized"])["sample_shape"]


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(obj, list):
        flat[prefix[:-1]] = ",".join(map(str, obj))[:500]
    else:
        flat[prefix[:-1]] = obj if _is_number(obj) else str(obj)[:500]
    return flat


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
