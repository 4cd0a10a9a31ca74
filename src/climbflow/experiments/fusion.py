"""Multimodal fusion on MIMIC-IV admissions (CLIMB §3.4): every strategy on the same cohort and split.

The EHR store (``mimic4``) defines the cohort and target; the linked chest X-ray (``mimic4_cxr``) and ECG
(``mimic4_ecg``) stores join by admission and may be missing. Image and ECG encoders start from the multi-task
pretrained encoders of their modality (every enabled dataset of that modality), as CLIMB's fusion does.
Every strategy is scored like every other model (:func:`climbflow.evaluate.scoring.score`: headline metrics with
patient-level bootstrap 95% CIs and the quality verdict).
Outputs ``fusion.json`` / ``fusion.md`` under the report folder, logged to MLflow.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from climbflow.config import Params
from climbflow.experiments.compare import standardized_stores
from climbflow.experiments.tracking import log_report
from climbflow.stages import StageFailed, pretrain
from climbflow.stages.base import Workspace, fingerprint, read_report
from climbflow.store.format import labels_of

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
        # every store: pretrain keeps the modality's, and holds out the fusion target's val/test patients
        targets = [*params.finetune.targets, STORES["ehr"]]
        pre = pretrain.run(params, modality, list(stores.values()), targets=targets)
        encoders[modality] = str(Path(pre.uri) / read_report(pre.uri)["encoder"])
    root = Path(out_dir or Workspace.from_params(params).local_root / "reports" / "fusion")
    rows = []
    for strategy in strategies:
        cfg = params.fusion.model_copy(update={"strategy": strategy})
        run_dir = (
            root / strategy / fingerprint("fusion", cfg.model_dump(), by_modality, encoders, params.seed)
        )
        log.info("fusion: %s", strategy)
        out = fit_fusion(
            by_modality,
            encoders,
            cfg,
            run_dir,
            params.seed,
            n_boot=params.evaluate.bootstrap,
            threshold=params.evaluate.threshold,
        )
        metrics = {k: float(v) for k, v in out["metrics"].items() if isinstance(v, (int, float))}
        test = out["test"]
        rows.append(
            {
                "strategy": strategy,
                "metrics": metrics,
                "ci": test.get("ci", {}),
                "quality": test["quality"]["verdict"],
                "n_patients": test.get("n_patients"),
                "model": str(run_dir / "model.pt"),
            }
        )
    root.mkdir(parents=True, exist_ok=True)
    result = {
        "target": labels_of(by_modality["ehr"])["classes"],
        "task": labels_of(by_modality["ehr"])["task"],
        "modalities": list(params.fusion.modalities),
        "encoders": encoders,
        "seed": params.seed,
        "bootstrap": params.evaluate.bootstrap,
        "rows": rows,
    }
    (root / "fusion.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    (root / "fusion.md").write_text(markdown(result))
    _log(params, result, root)
    return result | {"out_dir": str(root)}


def _cell(value: float, ci: dict[str, Any] | None) -> str:
    if value != value:
        return "n/a"
    if not ci:
        return f"{value:.3f}"
    return f"{value:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]"


def markdown(result: dict[str, Any]) -> str:
    from climbflow.evaluate.scoring import headline

    keys = headline("regression" if result["task"] == "regression" else "binary")
    lines = [
        f"# Fusion strategies on MIMIC-IV ({', '.join(result['target'])}, {result['task']})",
        "",
        f"Modalities: {', '.join(result['modalities'])}; image/ECG encoders from multi-task pretraining; "
        f"seed {result['seed']}. Test split; value [patient-level bootstrap 95% CI, "
        f"{result.get('bootstrap', 'n/a')} replicates]; quality: is the whole CI above chance.",
        "",
        "| strategy | " + " | ".join(keys) + " | quality | test patients |",
        "|---|" + "|".join("---:" for _ in keys) + "|---|---:|",
    ]
    for r in result["rows"]:
        cells = [_cell(r["metrics"].get(f"test/{k}", float("nan")), r.get("ci", {}).get(k)) for k in keys]
        lines.append(
            f"| {r['strategy']} | " + " | ".join(cells) + f" | {r.get('quality', 'n/a')} | "
            f"{r.get('n_patients', 'n/a')} |"
        )
    return "\n".join(lines) + "\n"


def _log(params: Params, result: dict[str, Any], out_dir: Path) -> None:
    metrics = {}
    for r in result["rows"]:
        metrics |= {
            f"{r['strategy']}.{k.replace('/', '.')}": v for k, v in r["metrics"].items() if v == v
        } | {
            f"{r['strategy']}.test.{k}.ci_{end}": float(ci[end])
            for k, ci in r["ci"].items()
            for end in ("low", "high")
            if ci[end] == ci[end]
        }
    log_report(params, "fusion", "fusion", metrics, out_dir)
