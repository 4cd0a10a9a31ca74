"""Evaluation report: ``metrics.json``, ``report.md`` and ROC / confusion-matrix PNGs per dataset."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from climbflow.evaluate.metrics import (
    binary_auc,
    checked_inputs,
    confusion_matrices,
    one_vs_rest,
    roc_curve,
)

CurveInput = tuple[np.ndarray, np.ndarray, Sequence[str], str]
_SUMMARY_COLS = (
    ("macro AUC", "macro_auc"),
    ("sensitivity", "sensitivity"),
    ("specificity", "specificity"),
    ("F1", "f1"),
    ("accuracy", "accuracy"),
    ("n", "n"),
)
_REGRESSION_COLS = (
    ("MAE", "mae"),
    ("RMSE", "rmse"),
    ("R²", "r2"),
    ("Pearson r", "pearson_r"),
    ("n", "n"),
)
_CLASS_COLS = (
    ("AUC", "auc"),
    ("sensitivity", "sensitivity"),
    ("specificity", "specificity"),
    ("F1", "f1"),
    ("support", "support"),
    ("prevalence", "prevalence"),
)


def _fmt(value: Any) -> str:
    """Markdown cell text: ints as-is, floats to 4 decimals, NaN/None as ``n/a``."""
    if value is None:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "n/a" if math.isnan(value) else f"{float(value):.4f}"
    return _cell(str(value))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], n_text: int = 1) -> list[str]:
    """Markdown table; the first ``n_text`` columns left-aligned, the rest right-aligned."""
    align = ["---"] * n_text + ["---:"] * (len(header) - n_text)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _with_ci(r: dict[str, Any], key: str) -> str:
    """``value [low, high]`` when the result has a bootstrap CI for ``key``."""
    ci = (r.get("ci") or {}).get(key)
    if not ci:
        return _fmt(r.get(key))
    return f"{_fmt(r.get(key))} [{_fmt(ci['low'])}, {_fmt(ci['high'])}]"


def _quality(r: dict[str, Any]) -> dict[str, Any]:
    """The result's quality verdict (recorded by ``score``, else judged here from its metrics and CIs)."""
    from climbflow.evaluate.quality import assess

    if isinstance(r.get("quality"), dict) and r["quality"].get("verdict"):
        return r["quality"]
    return assess(str(r.get("task", "")), r, r.get("ci"), r.get("n_patients"))


def _quality_cell(r: dict[str, Any]) -> str:
    verdict = _quality(r)["verdict"]
    return {"below_chance": "**BELOW CHANCE**", "uncertain": "uncertain"}.get(verdict, verdict)


def _valid_text(r: dict[str, Any]) -> str:
    """``; 950/1000 valid replicates`` (the fewest over the metrics) when the counts are recorded."""
    counts = [(c.get("n_valid"), c.get("n_boot")) for c in (r.get("ci") or {}).values() if c.get("n_boot")]
    if not counts:
        return ""
    n_valid, n_boot = min(counts, key=lambda c: c[0] / c[1])
    return f"; {n_valid}/{n_boot} valid replicates (a replicate is invalid when a class of the estimate is degenerate in it)"


def _columns(r: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return _REGRESSION_COLS if r.get("task") == "regression" else _SUMMARY_COLS


def _markdown(results: dict[str, dict[str, Any]], title: str) -> str:
    """Summary table, then per dataset a metrics table (with 95% CIs), per-class table and dropped classes."""
    lines = [f"# {title}", ""]
    for task_kind in ("classification", "regression"):
        chosen = {
            ds: r
            for ds, r in results.items()
            if (r.get("task") == "regression") == (task_kind == "regression")
        }
        if not chosen:
            continue
        cols = _REGRESSION_COLS if task_kind == "regression" else _SUMMARY_COLS
        lines += _table(
            ["dataset", "task"] + [h for h, _ in cols] + ["quality"],
            [
                [_cell(ds), _fmt(r.get("task"))] + [_fmt(r.get(k)) for _, k in cols] + [_quality_cell(r)]
                for ds, r in sorted(chosen.items())
            ],
            n_text=2,
        )
        lines.append("")
    for ds, r in sorted(results.items()):
        lines += ["", f"## {_cell(ds)}", ""]
        header = ["metric", "value [95% CI]"] if r.get("ci") else ["metric", "value"]
        lines += _table(header, [[h, _with_ci(r, k)] for h, k in _columns(r)])
        if r.get("ci"):
            lines += [
                "",
                f"95% CIs: patient-level bootstrap over {r.get('n_patients', 'n/a')} patients{_valid_text(r)}.",
            ]
            if r.get("ci_warning"):
                lines += ["", f"**Warning:** {_cell(str(r['ci_warning']))}"]
        quality = _quality(r)
        if quality["verdict"] != "ok":
            flag = "BELOW CHANCE" if quality["verdict"] == "below_chance" else "UNCERTAIN"
            lines += ["", f"**{flag}:** " + _cell("; ".join(quality["reasons"]))]
        per_class = r.get("per_class") or {}
        if per_class:
            lines += ["", "### Per-class", ""]
            lines += _table(
                ["class"] + [h for h, _ in _CLASS_COLS],
                [[_cell(c)] + [_fmt(v.get(k)) for _, k in _CLASS_COLS] for c, v in per_class.items()],
            )
        dropped = r.get("dropped_classes") or []
        lines += [
            "",
            "Dropped from macro AUC (no positives or all positives among known labels): "
            + (", ".join(_cell(c) for c in dropped) if dropped else "none"),
        ]
        if r.get("reason"):
            lines += ["", f"Note: {_cell(str(r['reason']))}"]
    return "\n".join(lines) + "\n"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _slug(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "dataset"
    slug, i = base, 1
    while slug in taken:
        i += 1
        slug = f"{base}_{i}"
    taken.add(slug)
    return slug


def _plot_roc(path: Path, dataset: str, f: Any) -> None:
    """One ROC curve per usable class plus the chance diagonal."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.add_subplot()
    n_curves = 0
    for k, name in enumerate(f.class_names):
        m = f.known[:, k]
        truth, score = f.truth[m, k], f.scores[m, k]
        if not 0 < truth.sum() < truth.size:
            continue
        fpr, tpr, _ = roc_curve(truth.astype(float), score)
        ax.plot(fpr, tpr, lw=1.2, label=f"{name} (AUC={binary_auc(truth, score):.3f})")
        n_curves += 1
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8, label="chance")
    if n_curves == 0:
        ax.text(0.5, 0.55, "no usable class", ha="center", va="center")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False positive rate", ylabel="True positive rate")
    ax.set_title(f"ROC: {dataset}", fontsize=10)
    ax.legend(loc="lower right", fontsize="x-small", ncol=1 if n_curves <= 12 else 2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    fig.clf()


def _annotate(ax: Any, cm: np.ndarray, fontsize: float) -> None:
    peak = cm.max() if cm.size else 0
    for (i, j), v in np.ndenumerate(cm):
        color = "white" if peak and v > peak / 2 else "black"
        ax.text(j, i, str(int(v)), ha="center", va="center", fontsize=fontsize, color=color)


def _plot_confusion(
    path: Path, dataset: str, cms: dict[str, np.ndarray] | np.ndarray, names: list[str]
) -> None:
    """Grid of per-class 2x2 matrices (multilabel/binary) or one CxC matrix (multiclass)."""
    from matplotlib.figure import Figure

    if isinstance(cms, np.ndarray):
        c = cms.shape[0]
        side = min(max(4.0, 0.4 * c + 2), 14.0)
        fig = Figure(figsize=(side, side), dpi=100)
        ax = fig.add_subplot()
        ax.imshow(cms, cmap="Blues")
        if c <= 25:
            _annotate(ax, cms, 8)
        ticks = np.arange(c)
        ax.set_xticks(ticks, labels=names, rotation=90, fontsize=7)
        ax.set_yticks(ticks, labels=names, fontsize=7)
        ax.set(xlabel="predicted", ylabel="true")
        ax.set_title(f"Confusion: {dataset}", fontsize=10)
    else:
        items = list(cms.items())
        ncols = max(1, min(len(items), 4 if len(items) <= 24 else 6))
        nrows = max(1, math.ceil(len(items) / ncols))
        fig = Figure(figsize=(2.4 * ncols, 2.3 * nrows + 0.4), dpi=100)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for ax, (name, cm) in zip(axes.ravel(), items, strict=False):
            ax.imshow(cm, cmap="Blues")
            _annotate(ax, cm, 9)
            ax.set_xticks([0, 1], labels=["pred 0", "pred 1"], fontsize=7)
            ax.set_yticks([0, 1], labels=["true 0", "true 1"], fontsize=7)
            ax.set_title(name, fontsize=8)
        for ax in axes.ravel()[len(items) :]:
            ax.axis("off")
        fig.suptitle(f"Confusion: {dataset}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    fig.clf()


def _plot_scatter(path: Path, dataset: str, y_true: Any, y_pred: Any) -> None:
    import matplotlib.pyplot as plt

    yt, yp = np.asarray(y_true, float).ravel(), np.asarray(y_pred, float).ravel()
    known = ~np.isnan(yt)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(yt[known], yp[known], s=10, alpha=0.6)
    if known.any():
        lo, hi = float(min(yt[known].min(), yp[known].min())), float(max(yt[known].max(), yp[known].max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title(f"Predicted vs true: {dataset}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(
    out_dir: Path,
    results: dict[str, dict[str, Any]],
    title: str,
    curves: dict[str, CurveInput] | None = None,
) -> dict[str, Any]:
    """Write ``metrics.json``, ``report.md`` and, per dataset in ``curves``, ``roc_<ds>.png`` and
    ``confusion_<ds>.png`` under ``out_dir``.

    Args:
        out_dir: output folder (created if missing).
        results: dataset name -> output of :func:`classification_metrics`.
        title: report heading.
        curves: dataset name -> ``(y_true, y_score, class_names, task)`` used for the plots; the
            threshold is taken from ``results[ds]["threshold"]`` (default 0.5).

    Returns:
        ``{"metrics": Path, "markdown": Path, "plots": [Path, ...]}``.
    """
    import matplotlib

    matplotlib.use("Agg")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(results, sort_keys=True, indent=2, default=_jsonable) + "\n")
    md_path = out_dir / "report.md"
    md_path.write_text(_markdown(results, title))

    plots: list[Path] = []
    taken: set[str] = set()
    for ds, (y_true, y_score, class_names, task) in sorted((curves or {}).items()):
        if task == "regression":
            path = out_dir / f"scatter_{_slug(ds, taken)}.png"
            _plot_scatter(path, ds, y_true, y_score)
            plots.append(path)
            continue
        threshold = float(results.get(ds, {}).get("threshold", 0.5))
        yt, ys, names = checked_inputs(y_true, y_score, task, class_names, threshold)
        f = one_vs_rest(yt, ys, task, names, threshold)
        slug = _slug(ds, taken)
        roc_path = out_dir / f"roc_{slug}.png"
        _plot_roc(roc_path, ds, f)
        cm_path = out_dir / f"confusion_{slug}.png"
        if task == "binary":
            cms = confusion_matrices(np.where(f.known, f.truth, np.nan), f.pred, f.class_names, "binary")
        else:
            cms = confusion_matrices(yt, f.pred, names, task)  # type: ignore[arg-type]
        _plot_confusion(cm_path, ds, cms, names)
        plots += [roc_path, cm_path]
    return {"metrics": metrics_path, "markdown": md_path, "plots": plots}
