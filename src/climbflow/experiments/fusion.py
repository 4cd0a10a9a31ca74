"""Multimodal fusion on MIMIC-IV admissions (CLIMB §3.4): every strategy on the same cohort and split.

The EHR store (``mimic4``) defines the cohort and target; the linked chest X-ray (``mimic4_cxr``) and ECG
(``mimic4_ecg``) stores join by admission and may be missing. Image and ECG encoders start from the multi-task
pretrained encoders of their modality (every enabled dataset of that modality), as CLIMB's fusion does.
Outputs ``fusion.json`` / ``fusion.md`` under the report folder, logged to MLflow.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from climbflow.config import Params
from climbflow.experiments.compare import standardized_stores
from climbflow.stages import StageFailed, pretrain
from climbflow.stages.base import Workspace, fingerprint, read_report
from climbflow.stages.standardize import labels_of

log = logging.getLogger(__name__)
STORES = {"ehr": "mimic4", "image2d": "mimic4_cxr", "ecg": "mimic4_ecg"}
STRATEGIES = ("late", "concat", "cross_attention", "gated")


def run_fusion(params: Params, strategies: list[str], out_dir: Path | None = None) -> dict[str, Any]:
    from climbflow.train.fusion import fit_fusion

    stores = standardized_stores(params)
    if STORES["ehr"] not in stores:
        raise StageFailed(
            "fusion needs the mimic4 dataset enabled (e.g. --datasets mimic4,mimic4_cxr,mimic4_ecg)"
        )
    by_modality = {m: stores[d] for m, d in STORES.items() if d in stores}
    encoders: dict[str, str | None] = {}
    for modality in ("image2d", "ecg"):
        if modality not in by_modality:
            continue
        same = [s for s in stores.values() if labels_of(s)["modality"] == modality]
        pre = pretrain.run(params, modality, same)
        encoders[modality] = str(Path(pre.uri) / read_report(pre.uri)["encoder"])
    root = Path(out_dir or Workspace.from_params(params).local_root / "reports" / "fusion")
    rows = []
    for strategy in strategies:
        cfg = params.fusion.model_copy(update={"strategy": strategy})
        run_dir = (
            root / strategy / fingerprint("fusion", cfg.model_dump(), by_modality, encoders, params.seed)
        )
        log.info("fusion: %s", strategy)
        out = fit_fusion(by_modality, encoders, cfg, run_dir, params.seed)
        metrics = {k: float(v) for k, v in out["metrics"].items() if isinstance(v, (int, float))}
        rows.append({"strategy": strategy, "metrics": metrics, "model": str(run_dir / "model.pt")})
    root.mkdir(parents=True, exist_ok=True)
    result = {
        "target": labels_of(by_modality["ehr"])["classes"],
        "task": labels_of(by_modality["ehr"])["task"],
        "modalities": list(params.fusion.modalities),
        "encoders": encoders,
        "seed": params.seed,
        "rows": rows,
    }
    (root / "fusion.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    (root / "fusion.md").write_text(markdown(result))
    _log(params, result, root)
    return result | {"out_dir": str(root)}


def markdown(result: dict[str, Any]) -> str:
    keys = sorted({k for r in result["rows"] for k in r["metrics"] if k.startswith("test/")})
    lines = [
        f"# Fusion strategies on MIMIC-IV ({', '.join(result['target'])}, {result['task']})",
        "",
        f"Modalities: {', '.join(result['modalities'])}; image/ECG encoders from multi-task pretraining; "
        f"seed {result['seed']}.",
        "",
        "| strategy | " + " | ".join(keys) + " |",
        "|---|" + "|".join("---:" for _ in keys) + "|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['strategy']} | "
            + " | ".join(f"{r['metrics'].get(k, float('nan')):.3f}" for k in keys)
            + " |"
        )
    return "\n".join(lines) + "\n"


def _log(params: Params, result: dict[str, Any], out_dir: Path) -> None:
    from climbflow.registry.tracking import _client, experiment_id, git_commit

    mlflow, _ = _client(params)
    with mlflow.start_run(experiment_id=experiment_id(params), run_name="fusion"):
        mlflow.set_tags({"climb.stage": "fusion", "climb.git_commit": git_commit()})
        for r in result["rows"]:
            mlflow.log_metrics(
                {f"{r['strategy']}.{k.replace('/', '.')}": v for k, v in r["metrics"].items() if v == v}
            )
        mlflow.log_artifacts(str(out_dir), artifact_path="fusion")
