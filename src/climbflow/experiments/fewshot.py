"""Few-shot transfer (CLIMB §3.3): finetune the multi-task pretrained encoder on k samples per label combination.

For every target dataset and k in ``ks`` (plus the full train split as reference) the finetune and evaluate
stages run with ``finetune.few_shot = k``; the table reports the primary metric with its patient-level
bootstrap 95% CI and the seed. Outputs ``fewshot.json`` / ``fewshot.md`` / ``fewshot.png``, logged to MLflow.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from climbflow.config import Params
from climbflow.experiments.compare import standardized_stores
from climbflow.experiments.tracking import log_report
from climbflow.stages import StageFailed, evaluate, finetune, pretrain
from climbflow.stages.base import Workspace, read_report
from climbflow.store.format import labels_of

log = logging.getLogger(__name__)


def run_fewshot(params: Params, ks: list[int], out_dir: Path | None = None) -> dict[str, Any]:
    from climbflow.evaluate.scoring import primary_metric

    stores = standardized_stores(params)
    rows = []
    for target in params.finetune.targets:
        if target not in stores:
            raise StageFailed(f"fewshot: target {target!r} is not an enabled dataset")
        modality = labels_of(stores[target])["modality"]
        same = [s for s in stores.values() if labels_of(s)["modality"] == modality]
        pre = pretrain.run(params, modality, same)
        for k in [*ks, None]:
            shot = params.model_copy(update={"finetune": params.finetune.model_copy(update={"few_shot": k})})
            log.info("fewshot: %s k=%s", target, k if k else "all")
            fine = finetune.run(shot, target, pre.uri, stores[target])
            ev = evaluate.run(shot, target, fine.uri, stores[target]).report
            metric = primary_metric(ev["task"])
            fs = read_report(fine.uri).get("few_shot") or {}
            rows.append(
                {
                    "target": target,
                    "modality": modality,
                    "k": k,
                    "n_train": fs.get("n_selected"),
                    "seed": params.seed,
                    "metric": metric,
                    "value": ev["metrics"][metric],
                    "ci": ev.get("ci", {}).get(metric, {}),
                    "pretrained_on": sorted(labels_of(s)["dataset"] for s in same),
                    "model": fine.uri,
                }
            )
    out_dir = Path(out_dir or Workspace.from_params(params).local_root / "reports" / "fewshot")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"ks": ks, "seed": params.seed, "rows": rows}
    (out_dir / "fewshot.json").write_text(json.dumps(result, indent=2, sort_keys=True, default=float) + "\n")
    (out_dir / "fewshot.md").write_text(markdown(result))
    _plot(result, out_dir / "fewshot.png")
    _log(params, result, out_dir)
    return result | {"out_dir": str(out_dir)}


def _ci(row: dict[str, Any]) -> str:
    ci = row["ci"]
    return f"[{ci['low']:.3f}, {ci['high']:.3f}]" if ci and ci.get("low") == ci.get("low") else "n/a"


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Few-shot finetuning of the multi-task pretrained encoder",
        "",
        f"k train samples per label combination, oversampled to the train-split size (CLIMB); seed {result['seed']}.",
        "",
        "| target | k | train samples | metric | value | 95% CI | pretrained on |",
        "|---|---:|---:|---|---:|---|---|",
    ]
    for r in result["rows"]:
        k = "all" if r["k"] is None else str(r["k"])
        lines.append(
            f"| {r['target']} | {k} | {r['n_train'] if r['n_train'] is not None else 'all'} | {r['metric']} | "
            f"{r['value']:.3f} | {_ci(r)} | {', '.join(r['pretrained_on'])} |"
        )
    return "\n".join(lines) + "\n"


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for target in dict.fromkeys(r["target"] for r in result["rows"]):
        rows = [r for r in result["rows"] if r["target"] == target and r["k"] is not None]
        if rows:
            ax.plot(
                [r["k"] for r in rows],
                [r["value"] for r in rows],
                marker="o",
                label=f"{target} ({rows[0]['metric']})",
            )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples per label combination)")
    ax.legend(fontsize=8)
    ax.set_title("few-shot transfer", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _log(params: Params, result: dict[str, Any], out_dir: Path) -> None:
    rows = [r for r in result["rows"] if r["value"] == r["value"]]
    metrics = {f"{r['target']}.k{r['k'] or 'all'}.{r['metric']}": r["value"] for r in rows}
    log_report(params, "fewshot", "fewshot", metrics, out_dir)
