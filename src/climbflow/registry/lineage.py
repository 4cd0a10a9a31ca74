"""Lineage of a registered model version, from recorded facts only (MLflow runs and tags, stage reports).

model version -> evaluate / finetune / pretrain runs -> pipeline run (git commit, image, params) -> per dataset:
data version (DVC hash, remote) -> validation verdict and Data Docs -> raw snapshot (source URI, file count,
sha256 manifest). A link that was not recorded is shown as ``{"missing": why}``, never guessed.
Renderers: rich tree, JSON, self-contained HTML. :func:`diff` compares two versions.
"""

from __future__ import annotations

import hashlib
import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from climbflow.config import Params
from climbflow.store.uri import redact

MISSING = "missing"


def missing(why: str) -> dict[str, str]:
    return {MISSING: why}


def is_missing(node: Any) -> bool:
    return isinstance(node, dict) and set(node) == {MISSING}


def parse_ref(ref: str) -> tuple[str, str, str]:
    """``MODEL@alias`` -> (model, "alias", alias); ``MODEL/VERSION`` -> (model, "version", version)."""
    if "@" in ref:
        model, alias = ref.split("@", 1)
        return model, "alias", alias
    if "/" in ref:
        model, version = ref.rsplit("/", 1)
        return model, "version", version
    raise ValueError(f"{ref!r}: expected MODEL@ALIAS (e.g. climb-ptbxl@champion) or MODEL/VERSION")


def _resolve(client, ref: str):
    from mlflow.exceptions import MlflowException

    model, kind, value = parse_ref(ref)
    try:
        if kind == "alias":
            return client.get_model_version_by_alias(model, value)
        return client.get_model_version(model, value)
    except MlflowException as exc:
        raise LookupError(f"{ref}: not found in the model registry ({exc.message})") from None


def _ms(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if ms else None


def _run_node(run) -> dict[str, Any]:
    tags = run.data.tags
    return {
        "mlflow_run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "stage": tags.get("climb.stage"),
        "name": tags.get("climb.name"),
        "output_uri": tags.get("climb.output_uri"),
        "cache_hit": tags.get("climb.cache_hit"),
        "started": _ms(run.info.start_time),
    }


def _readable(output_uri: str | None) -> bool:
    """A recorded output location this process can read: a local path, or ``s3://`` (not a redacted URL)."""
    return bool(output_uri) and (
        "://" not in output_uri or (output_uri.startswith("s3://") and "***" not in output_uri)
    )


def _local_report(output_uri: str | None) -> dict[str, Any] | None:
    """The stage's own report.json, if its recorded output location is readable here (local or s3://)."""
    if not _readable(output_uri):
        return None
    from climbflow.store import uri as uris

    marker = uris.join(output_uri, "report.json")
    try:
        return json.loads(uris.read_text(marker)) if uris.file_exists(marker) else None
    except OSError:
        return None


def _files_table(snapshot_uri: str | None) -> Path | None:
    """A local copy of a raw snapshot's ``files.parquet`` (the sha256 manifest), if it is readable here."""
    if not _readable(snapshot_uri):
        return None
    from climbflow.store import uri as uris

    if "://" not in snapshot_uri:
        return Path(snapshot_uri) / "files.parquet"
    local = uris.mirror_path(uris.join(snapshot_uri, "files.parquet"))
    if not local.exists() and uris.file_exists(uris.join(snapshot_uri, "files.parquet")):
        local.parent.mkdir(parents=True, exist_ok=True)
        fs = uris.s3_filesystem()
        fs.get_file(uris.join(snapshot_uri, "files.parquet"), str(local))
    return local


class _Runs:
    """The child runs of one pipeline run, looked up by recorded tags."""

    def __init__(self, client, experiment_ids: list[str], parent_id: str):
        self.client, self.experiment_ids = client, experiment_ids
        self.children = client.search_runs(
            experiment_ids, filter_string=f"tags.mlflow.parentRunId = '{parent_id}'", max_results=1000
        )

    def find(self, stage: str, name: str | None = None, output_uri: str | None = None, **tags: str):
        """The child run of ``stage`` whose recorded tags equal every given value (``tags``: ``climb.<key>``)."""
        wanted = {f"climb.{k}": v for k, v in tags.items()}
        for run in self.children:
            got = run.data.tags
            if got.get("climb.stage") != stage:
                continue
            if output_uri is not None and got.get("climb.output_uri") != output_uri:
                continue
            if name is not None and got.get("climb.name") != name:
                continue
            if any(got.get(k) != v for k, v in wanted.items()):
                continue
            return run
        return None

    def origin(self, run):
        """For a cache hit: the run that produced the same output (same recorded output URI, not cached)."""
        if run.data.tags.get("climb.cache_hit") != "true":
            return run
        uri = run.data.tags.get("climb.output_uri", "").replace("'", "\\'")
        found = self.client.search_runs(
            self.experiment_ids,
            filter_string=f"tags.`climb.output_uri` = '{uri}' and tags.`climb.cache_hit` = 'false'",
            max_results=1,
        )
        return found[0] if found else None


def _from_scratch(fine) -> bool:
    """Whether the finetune run's own report says it used no pretrained encoder (``"pretrained": null``)."""
    report = _local_report(fine.data.tags.get("climb.output_uri"))
    return report is not None and "pretrained" in report and report["pretrained"] is None


def _dataset(runs: _Runs, client, dataset: str, version: str) -> dict[str, Any]:
    """One dataset's chain, each link matched on recorded values only: the standardize run that produced exactly
    ``version`` (its DVC hash), then the validate and ingest runs of the same raw snapshot (``climb.snapshot_id``)."""
    node: dict[str, Any] = {"dataset": dataset, "data_version_used": version}
    std = runs.find("standardize", dataset, data_version=version)
    snapshot = std.data.tags.get("climb.snapshot_id") if std is not None else None
    if std is None:
        node["standardized"] = missing(
            f"no standardize run of this dataset with data version {version} in the pipeline run"
        )
    else:
        tags = std.data.tags
        node["standardized"] = _run_node(std) | {
            "dvc_hash": tags.get("climb.data_version") or missing("no DVC version recorded"),
            "dvc_remote": tags.get("climb.dvc_remote") or missing("no DVC remote recorded"),
            "matches_version_used": tags.get("climb.data_version") == version,
            "snapshot_id": snapshot or missing("no snapshot id recorded on the standardize run"),
        }
    unlinked = (
        "the standardize run of this data version is not recorded"
        if std is None
        else "no snapshot id recorded on the standardize run"
    )
    val = runs.find("validate", dataset, snapshot_id=snapshot) if snapshot else None
    if val is None:
        node["validation"] = missing(
            f"no validate run of snapshot {snapshot} in the pipeline run" if snapshot else unlinked
        )
    else:
        tags = val.data.tags
        report = _local_report(tags.get("climb.output_uri")) or {}
        docs_rel = tags.get("climb.data_docs") or report.get("data_docs")
        origin = runs.origin(val)
        docs: Any = missing("no Data Docs recorded")
        if origin is not None and client.list_artifacts(origin.info.run_id, "data_docs"):
            docs = {"artifact": f"{origin.info.artifact_uri}/data_docs", "index": docs_rel}
        elif docs_rel and tags.get("climb.output_uri"):
            docs = {"local": f"{tags['climb.output_uri']}/{docs_rel}"}
        verdict = tags.get("climb.passed")
        node["validation"] = _run_node(val) | {
            "passed": verdict if verdict is not None else missing("no verdict recorded"),
            "failures": report.get("failures", missing("validation report not readable here")),
            "data_docs": docs,
        }
    ing = runs.find("ingest", dataset, snapshot_id=snapshot) if snapshot else None
    if ing is None:
        node["raw_snapshot"] = missing(
            f"no ingest run of snapshot {snapshot} in the pipeline run" if snapshot else unlinked
        )
    else:
        tags, metrics = ing.data.tags, ing.data.metrics
        out = tags.get("climb.output_uri")
        manifest_path = _files_table(out)
        manifest: dict[str, Any] = {"uri": f"{out}/files.parquet" if out else None}
        if manifest_path is not None and manifest_path.is_file():
            import pandas as pd

            manifest["present"] = True
            manifest["entries"] = len(pd.read_parquet(manifest_path, columns=["sha256"]))
            manifest["sha256"] = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
        else:
            manifest["present"] = False
        node["raw_snapshot"] = _run_node(ing) | {
            "snapshot_id": tags.get("climb.snapshot_id") or missing("no snapshot id recorded"),
            "source_uri": tags.get("climb.source_uri") or missing("no source URI recorded"),
            "n_files": int(metrics["n_files"]) if "n_files" in metrics else missing("no file count recorded"),
            "total_bytes": int(metrics["total_bytes"]) if "total_bytes" in metrics else None,
            "dvc_hash": tags.get("climb.data_version") or missing("no DVC version recorded"),
            "sha256_manifest": manifest,
        }
    return node


def lineage(params: Params, ref: str) -> dict[str, Any]:
    """The lineage tree of ``MODEL@alias`` or ``MODEL/VERSION`` (see the module docstring)."""
    from mlflow.exceptions import MlflowException

    from climbflow.registry.tracking import mlflow_client

    _, client = mlflow_client(params)
    mv = _resolve(client, ref)
    tags = dict(mv.tags)
    aliases = sorted(
        a for a, v in client.get_registered_model(mv.name).aliases.items() if str(v) == str(mv.version)
    )
    root: dict[str, Any] = {
        "ref": ref,
        "model": mv.name,
        "version": str(mv.version),
        "aliases": aliases,
        "created": _ms(mv.creation_timestamp),
        "source": mv.source,
        "task": tags.get("climb.task") or missing("no task recorded"),
        "metrics": {
            k.removeprefix("climb.metric."): v for k, v in tags.items() if k.startswith("climb.metric.")
        },
        "test_split_hash": tags.get("climb.test_split_hash") or missing("no test split hash recorded"),
        "validation": tags.get("climb.validation") or missing("no validation verdict recorded"),
        "data_versions": {
            k.removeprefix("climb.data_version."): v
            for k, v in tags.items()
            if k.startswith("climb.data_version.")
        }
        or missing("no per-dataset data versions recorded"),
        "promotion": {
            k.removeprefix("climb.promotion."): v
            for k, v in tags.items()
            if k.startswith("climb.promotion.") and k != "climb.promotion.rules"
        },
    }
    try:
        ev = client.get_run(mv.run_id) if mv.run_id else None
    except MlflowException:
        ev = None
    if ev is None:
        root["evaluate"] = missing(f"evaluate run {mv.run_id or '(none recorded)'} not found")
        return _redact(root)
    ev_node = _run_node(ev)
    root["evaluate"] = ev_node
    parent_id = ev.data.tags.get("mlflow.parentRunId")
    if not parent_id:
        ev_node["pipeline_run"] = missing("the evaluate run has no parent pipeline run")
        return _redact(root)
    parent = client.get_run(parent_id)
    ptags = parent.data.tags
    ev_node["pipeline_run"] = {
        "pipeline_run_id": ptags.get("climb.pipeline_run_id") or missing("no pipeline run id recorded"),
        "mlflow_run_id": parent_id,
        "git_commit": ptags.get("climb.git_commit") or missing("no git commit recorded"),
        "image": ptags.get("climb.image") or missing("no image recorded"),
        "status": parent.info.status,
        "params": dict(sorted(parent.data.params.items())) or missing("no params recorded"),
    }
    runs = _Runs(client, [parent.info.experiment_id], parent_id)
    link = ev.data.tags.get("climb.input.model")
    fine = runs.find("finetune", output_uri=link) if link else None
    if fine is None:
        ev_node["finetune"] = missing(
            f"no finetune run with output {link} in the pipeline run"
            if link
            else "no climb.input.model recorded on the evaluate run"
        )
        return _redact(root)
    fine_node = _run_node(fine)
    ev_node["finetune"] = fine_node
    link = fine.data.tags.get("climb.input.pretrained")
    pre = runs.find("pretrain", output_uri=link) if link else None
    used = dict(root["data_versions"]) if not is_missing(root["data_versions"]) else {}
    if pre is None and not link and _from_scratch(fine):
        fine_node["pretrain"] = "none (the finetune report records no pretrained encoder)"
    elif pre is None:
        fine_node["pretrain"] = missing(
            f"no pretrain run with output {link} in the pipeline run"
            if link
            else "no climb.input.pretrained recorded on the finetune run"
        )
    else:
        pre_versions = {
            k.removeprefix("climb.data_version."): v
            for k, v in pre.data.tags.items()
            if k.startswith("climb.data_version.")
        }
        fine_node["pretrain"] = _run_node(pre) | {"data_versions": pre_versions}
        used = pre_versions | used
    if not used:
        root["datasets"] = missing("no data versions recorded on the version or the pretrain run")
    else:
        root["datasets"] = [_dataset(runs, client, ds, v) for ds, v in sorted(used.items())]
    return _redact(root)


def _redact(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _redact(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_redact(v) for v in node]
    return redact(node) if isinstance(node, str) else node


def facts(tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The comparable facts of a lineage tree: data versions, params, code, metrics, snapshots, test split."""
    ev = tree.get("evaluate") if isinstance(tree.get("evaluate"), dict) else {}
    pipe = ev.get("pipeline_run") if isinstance(ev.get("pipeline_run"), dict) else {}
    datasets = tree.get("datasets") if isinstance(tree.get("datasets"), list) else []
    data_versions = tree["data_versions"] if not is_missing(tree.get("data_versions")) else {}
    return {
        "data_versions": dict(data_versions) or {d["dataset"]: d["data_version_used"] for d in datasets},
        "snapshots": {
            d["dataset"]: (
                d["raw_snapshot"].get("snapshot_id") if not is_missing(d["raw_snapshot"]) else None
            )
            for d in datasets
        },
        "params": dict(pipe.get("params") or {}) if not is_missing(pipe.get("params")) else {},
        "code": {"git_commit": pipe.get("git_commit"), "image": pipe.get("image")},
        "metrics": dict(tree.get("metrics") or {}),
        "test_split": {"test_split_hash": tree.get("test_split_hash")},
    }


def diff_facts(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for section in a.keys() | b.keys():
        sa, sb = a.get(section, {}), b.get(section, {})
        out[section] = {
            k: {"a": sa.get(k), "b": sb.get(k)}
            for k in sorted(sa.keys() | sb.keys())
            if sa.get(k) != sb.get(k)
        }
    return dict(sorted(out.items()))


def diff(params: Params, a: str, b: str) -> dict[str, Any]:
    """What differs between two model versions: per section, ``{key: {"a": ..., "b": ...}}`` of differing keys."""
    return {"a": a, "b": b, **diff_facts(facts(lineage(params, a)), facts(lineage(params, b)))}


# --- renderers ---------------------------------------------------------------------------------------------

_HIDE_IN_TREE = {"params"}
_NAMING = ("stage", "name", "dataset")  # a node's naming fields: shown once, in its heading


def _said(word: str, field: str) -> str:
    """What makes a word already said: a stage by its stem ('validation' / 'validate'), a name exactly."""
    return word.lower()[:5] if field == "stage" else word.lower()


def _heading(key: str, node: dict[str, Any], seen: frozenset[str]) -> tuple[str, frozenset[str]]:
    """``evaluate ptbxl`` (not 'evaluate evaluate ptbxl'): the key, then the node's stage / name / dataset that
    neither the key nor a heading above already says; returns the heading and what is said so far."""
    words, said = [key], set(seen) | {_said(key, "stage"), _said(key, "name")}
    for field in _NAMING:
        value = str(node.get(field) or "")
        if value and _said(value, field) not in said:
            words.append(value)
            said |= {_said(value, "stage"), _said(value, "name")}
    return " ".join(words), frozenset(said)


def _shown(value: Any) -> str:
    """A leaf as text: lists joined, an empty one 'none', an unrecorded optional value 'not recorded'."""
    if value is None:
        return "not recorded"
    if isinstance(value, (list, dict)):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def _children(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in _NAMING}


def _is_branch(value: Any) -> bool:
    """A dict or a list of dicts with something in it (empty ones render as leaves: 'promotion: none')."""
    if isinstance(value, dict):
        return bool(value) and not is_missing(value)
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _items(key: str, value: Any) -> list[tuple[str, Any]]:
    """A branch's children: a dict's entries, or a list's dicts keyed by their dataset / name."""
    if isinstance(value, dict):
        return list(_children(value).items())
    return [(str(v.get("dataset") or v.get("name") or key), v) for v in value]


def to_rich(tree: dict[str, Any]):
    """A rich Tree (print with ``rich.console.Console().print``)."""
    from rich.markup import escape
    from rich.tree import Tree

    aliases = f" @{', @'.join(tree['aliases'])}" if tree.get("aliases") else ""
    root = Tree(f"[bold]{escape(tree['model'])}/{escape(tree['version'])}[/bold]{escape(aliases)}")

    def add(parent, key: str, value: Any, seen: frozenset[str]) -> None:
        if is_missing(value):
            parent.add(f"[bold red]{escape(key)}: MISSING[/bold red] ({escape(value[MISSING])})")
        elif key in _HIDE_IN_TREE and isinstance(value, dict):
            parent.add(f"{escape(key)}: {len(value)} recorded (see --format json)")
        elif _is_branch(value):
            heading, said = _heading(key, value, seen) if isinstance(value, dict) else (key, seen)
            sub = parent.add(f"[cyan]{escape(heading)}[/cyan]")
            for k, v in _items(key, value):
                add(sub, k, v, said)
        else:
            parent.add(f"{escape(key)}: {escape(_shown(value))}")

    for k, v in tree.items():
        if k not in ("model", "version", "aliases"):
            add(root, k, v, frozenset())
    return root


def to_json(tree: dict[str, Any]) -> str:
    return json.dumps(tree, indent=2, sort_keys=False, default=str)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2430;background:#fff}
h1{font-size:1.4rem}ul{list-style:none;padding-left:1.2rem;border-left:1px solid #d0d7de;margin:.2rem 0}
li{margin:.15rem 0}.k{color:#0550ae;font-weight:600}.v{font-family:ui-monospace,Menlo,monospace;word-break:break-all}
.missing{color:#b42318;font-weight:700}summary{cursor:pointer}.meta{color:#57606a;font-size:.9rem}
"""


def to_html(tree: dict[str, Any]) -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external URLs)."""
    esc = html.escape

    def render(key: str, value: Any, seen: frozenset[str] = frozenset()) -> str:
        k = f'<span class="k">{esc(key)}</span>'
        if is_missing(value):
            return f'<li data-missing="{esc(key)}">{k}: <span class="missing">MISSING</span> ({esc(value[MISSING])})</li>'
        if not _is_branch(value):
            return f'<li>{k}: <span class="v">{esc(_shown(value))}</span></li>'
        heading, said = _heading(key, value, seen) if isinstance(value, dict) else (key, seen)
        inner = "".join(render(kk, vv, said) for kk, vv in _items(key, value))
        hidden = key in _HIDE_IN_TREE
        count = f' <span class="meta">({len(value)})</span>' if hidden else ""
        summary = f'<span class="k">{esc(heading)}</span>{count}'
        opened = "" if hidden else " open"
        return f"<li><details{opened}><summary>{summary}</summary><ul>{inner}</ul></details></li>"

    title = f"{tree['model']}/{tree['version']}"
    aliases = " ".join(f"@{a}" for a in tree.get("aliases", []))
    body = "".join(render(k, v) for k, v in tree.items() if k not in ("model", "version", "aliases"))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Lineage of {esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1 id="title">Lineage of {esc(title)} <span class="meta">{esc(aliases)}</span></h1>'
        f'<ul id="lineage">{body}</ul>'
        '<p class="meta">From recorded facts only (MLflow runs and tags, stage reports); '
        "MISSING marks a link that was not recorded.</p></body></html>\n"
    )
