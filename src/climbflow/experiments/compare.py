"""CLIMB's headline table: per target dataset, the same encoder single-task vs multi-task pretrained.

Single-task = pretrain on the target's store alone, then finetune; multi-task = pretrain on every store of the
target's modality, then finetune (exactly what ``climb run`` does, so its cached outputs are reused). Both models
are scored on the same test split and the difference gets a paired, patient-level bootstrap 95% CI.
Outputs: ``compare.json``, ``compare.md`` and ``compare.png`` under the output folder, logged to MLflow.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from climbflow.config import Params
from climbflow.experiments.tracking import log_report
from climbflow.stages import StageFailed, finetune, ingest, pretrain, standardize, validate
from climbflow.stages.base import Workspace, read_report
from climbflow.store.format import labels_of

log = logging.getLogger(__name__)
ARMS = ("single_task", "multi_task")


@dataclass
class Arm:
    """One trained model of the comparison and its test-split predictions."""

    pretrained: str
    model: str
    datasets: list[str]
    y_true: np.ndarray
    y_score: np.ndarray
    sample_ids: list[str]


def standardized_stores(params: Params) -> dict[str, str]:
    """ingest -> validate -> standardize every enabled dataset (cached outputs are reused)."""
    stores = {}
    for name in params.enabled_datasets():
        snap = ingest.run(params, name)
        val = validate.run(params, name, snap.uri)
        stores[name] = standardize.run(params, name, snap.uri, val.uri).uri
    return stores


def _arm(params: Params, target: str, stores: list[str], target_store: str) -> Arm:
    from climbflow.train.fit import load_model, predict

    modality = labels_of(target_store)["modality"]
    pre = pretrain.run(params, modality, stores)
    fine = finetune.run(params, target, pre.uri, target_store)
    model = load_model(Path(fine.uri) / read_report(fine.uri)["model"])
    y_true, y_score, ids = predict(model, Path(target_store), "test", params.finetune.batch_size)
    datasets = sorted(labels_of(s)["dataset"] for s in stores)
    return Arm(pre.uri, fine.uri, datasets, y_true, y_score, list(ids))


def compare_target(params: Params, target: str, stores: dict[str, str], n_boot: int) -> dict[str, Any]:
    """Both arms for one target, their metrics with CIs and the paired delta of every headline metric."""
    from climbflow.evaluate.scoring import headline, paired_comparison, primary_metric, score
    from climbflow.store.format import StoreReader

    target_store = stores[target]
    labels = labels_of(target_store)
    modality, task, classes = labels["modality"], labels["task"], labels["classes"]
    same_modality = [s for s in stores.values() if labels_of(s)["modality"] == modality]
    arms = {
        "single_task": _arm(params, target, [target_store], target_store),
        "multi_task": _arm(params, target, same_modality, target_store),
    }
    single, multi = arms["single_task"], arms["multi_task"]
    if single.sample_ids != multi.sample_ids:
        raise StageFailed(f"{target}: the two arms were not scored on the same test samples")
    manifest = StoreReader(Path(target_store)).manifest
    patient_of = dict(zip(manifest["sample_id"], manifest["patient_id"], strict=True))
    patients = [patient_of[i] for i in single.sample_ids]
    threshold, seed = params.evaluate.threshold, params.seed
    keys = headline(task)
    # multi-task minus single-task on the same patients, every replicate over the same frozen class set
    delta = paired_comparison(
        multi.y_true, multi.y_score, single.y_score, patients, task, classes, threshold, n_boot, seed
    )["delta"]
    primary = primary_metric(task)
    base = score(single.y_true, single.y_score, patients, task, classes, threshold, n_boot, seed)
    best = score(multi.y_true, multi.y_score, patients, task, classes, threshold, n_boot, seed)
    gain = delta[primary]["estimate"] if primary in delta else float("nan")
    rel = gain / abs(base[primary]) if base[primary] not in (0, None) else float("nan")
    return {
        "target": target,
        "modality": modality,
        "task": task,
        "primary_metric": primary,
        "n_test": len(patients),
        "n_patients": len(set(patients)),
        "arms": {
            name: {
                "datasets": arm.datasets,
                "pretrained": arm.pretrained,
                "model": arm.model,
                "metrics": {k: m[k] for k in keys},
                "ci": m.get("ci", {}),
            }
            for (name, arm), m in zip(arms.items(), (base, best), strict=True)
        },
        "delta": delta,
        "relative_delta": rel,
    }


def run_compare(params: Params, out_dir: Path | None = None, n_boot: int | None = None) -> dict[str, Any]:
    """Compare single-task vs multi-task for every ``finetune.targets`` dataset; write and log the report."""
    n_boot = params.evaluate.bootstrap if n_boot is None else n_boot
    stores = standardized_stores(params)
    rows = []
    for target in params.finetune.targets:
        if target not in stores:
            raise StageFailed(f"compare: target {target!r} is not an enabled dataset")
        log.info("compare: %s (single-task vs multi-task)", target)
        rows.append(compare_target(params, target, stores, n_boot))
    out_dir = Path(out_dir or Workspace.from_params(params).local_root / "reports" / "compare")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"seed": params.seed, "bootstrap": n_boot, "targets": rows}
    (out_dir / "compare.json").write_text(json.dumps(result, indent=2, sort_keys=True, default=float) + "\n")
    (out_dir / "compare.md").write_text(markdown(result))
    plot(result, out_dir / "compare.png")
    _log_to_mlflow(params, result, out_dir)
    return result | {"out_dir": str(out_dir)}


def _fmt(x: float) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Multi-task vs single-task pretraining (CLIMB's headline comparison)",
        "",
        "Same encoder and finetuning; single-task pretrains on the target alone, multi-task on every dataset of the "
        f"modality. Δ = multi − single with a paired patient-level bootstrap 95% CI ({result['bootstrap']} replicates).",
        "",
        "| target | modality | metric | single-task | multi-task | Δ abs [95% CI] | Δ rel | multi-task datasets |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for r in result["targets"]:
        p = r["primary_metric"]
        single, multi, d = r["arms"]["single_task"], r["arms"]["multi_task"], r["delta"][p]
        lines.append(
            f"| {r['target']} | {r['modality']} | {p} | {_fmt(single['metrics'][p])} | {_fmt(multi['metrics'][p])} | "
            f"{d['estimate']:+.3f} [{_fmt(d['low'])}, {_fmt(d['high'])}] | {r['relative_delta']:+.1%} | "
            f"{', '.join(multi['datasets'])} |"
        )
    lines += ["", "A CI that excludes 0 means the difference is unlikely to be resampling noise.", ""]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["targets"]
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(rows) + 2), 3.6))
    x = np.arange(len(rows))
    for i, arm in enumerate(ARMS):
        vals = [r["arms"][arm]["metrics"][r["primary_metric"]] for r in rows]
        err = [
            [
                v - r["arms"][arm]["ci"].get(r["primary_metric"], {}).get("low", v)
                for v, r in zip(vals, rows, strict=True)
            ],
            [
                r["arms"][arm]["ci"].get(r["primary_metric"], {}).get("high", v) - v
                for v, r in zip(vals, rows, strict=True)
            ],
        ]
        ax.bar(x + (i - 0.5) * 0.38, vals, 0.38, yerr=err, capsize=3, label=arm.replace("_", "-"))
    ax.set_xticks(x, [f"{r['target']}\n({r['primary_metric']})" for r in rows])
    ax.legend()
    ax.set_title("single-task vs multi-task pretraining (95% CI)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _log_to_mlflow(params: Params, result: dict[str, Any], out_dir: Path) -> None:
    metrics = {}
    for r in result["targets"]:
        p = r["primary_metric"]
        metrics |= {
            f"{r['target']}.single_task.{p}": r["arms"]["single_task"]["metrics"][p],
            f"{r['target']}.multi_task.{p}": r["arms"]["multi_task"]["metrics"][p],
            f"{r['target']}.delta.{p}": r["delta"][p]["estimate"],
        }
    log_report(params, "compare", "compare multitask vs single-task", metrics, out_dir)
