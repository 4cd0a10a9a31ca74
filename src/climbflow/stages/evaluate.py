"""evaluate: metrics of a finetuned model on the target's test split, with a JSON + Markdown + PNG report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from climbflow.config import Params
from climbflow.stages.base import StageResult, Workspace, fingerprint, read_report, run_cached
from climbflow.stages.common import pick_store, store_version
from climbflow.store import uri as uris
from climbflow.store.format import labels_of


def run(
    params: Params, target: str, model: str, standardized: str | list[str], out: str | None = None
) -> StageResult:
    standardized = pick_store(standardized, target)
    cfg = params.evaluate
    version = store_version(standardized)
    key = fingerprint("evaluate", target, model, version, cfg.threshold, cfg.bootstrap, params.seed)
    out = out or str(Workspace.from_params(params).stage_dir("evaluation", target, key))
    fine = read_report(model)

    def build(tmp: Path) -> dict[str, Any]:
        from climbflow.evaluate.report import write_report
        from climbflow.evaluate.scoring import headline, score
        from climbflow.store.format import StoreReader
        from climbflow.train.fit import load_model, predict

        labels = labels_of(standardized)
        store = uris.local_copy(standardized)
        net = load_model(uris.local_copy(model) / fine["model"])
        y_true, y_prob, ids = predict(net, store, "test", params.finetune.batch_size)
        manifest = StoreReader(store).manifest
        patient_of = dict(zip(manifest["sample_id"], manifest["patient_id"], strict=True))
        metrics = score(
            y_true,
            y_prob,
            [patient_of[i] for i in ids],
            labels["task"],
            labels["classes"],
            cfg.threshold,
            n_boot=cfg.bootstrap,
            seed=params.seed,
        )
        write_report(
            tmp,
            {target: metrics},
            title=f"climbflow evaluation: {target}",
            curves={target: (y_true, y_prob, labels["classes"], labels["task"])},
        )
        from climbflow.evaluate.ui import UI_FILE, ui_payload

        ui = ui_payload(y_true, y_prob, labels["task"], labels["classes"], cfg.threshold)
        (tmp / UI_FILE).write_text(json.dumps(ui, sort_keys=True) + "\n")
        return {
            "stage": "evaluate",
            "target": target,
            "modality": labels["modality"],
            "model": model,
            "standardized": standardized,
            "data_version": version,
            "pretrain_data_versions": fine.get("pretrain_data_versions", {}),
            "split": "test",
            "n_test": int(metrics["n"]),
            "task": labels["task"],
            "metrics": {k: metrics[k] for k in headline(labels["task"])},
            "ci": metrics.get("ci", {}),
            "per_class_auc": {name: m["auc"] for name, m in metrics.get("per_class", {}).items()},
            "dropped_classes": metrics.get("dropped_classes", []),
            "files": sorted(p.name for p in tmp.iterdir()),
        }

    return run_cached("evaluate", target, out, build)
