"""Dataset validation suites: the Great Expectations (GX 1.x) adapter.

Every GX specific (context, pandas data source, suites, Data Docs, result parsing) lives in this module so a
GX upgrade touches one file. The checks themselves are plain data (:class:`Rule`: a stable climbflow rule
name bound to a GX expectation class name and its arguments). Two checks GX cannot express directly, patient
leakage across splits and the quarantine fraction, are computed in pandas and reported the same way.

GX is imported lazily inside :func:`validate_dataset` (importing it takes seconds). Nothing reaches the
network: the context is ephemeral (in-memory stores), analytics are off and Data Docs go to a local folder.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from climbflow.validate import offline_docs

logger = logging.getLogger(__name__)

SITE_NAME = "climbflow"
DATASOURCE_NAME = "climbflow"
RECORD_COLUMNS = (
    "record_id",
    "patient_id",
    "split",
    "n_files",
    "target_len",
    "target_min",
    "target_max",
    "target_nan_fraction",
    "n_positive",
    "content_sha256",
)
LABEL_COLUMNS = ("class", "n_known", "n_positive", "prevalence")
SPLIT_COLUMNS = ("split", "n_records", "fraction", "train_fraction")
SAMPLE_COLUMNS = ("record_id", "ok", "rule", "ndim", "dim0", "dim1", "sampling_rate", "finite", "min", "max")
SAMPLE_KEYS = frozenset({"ndim", "min_sampling_rate", "min_dim"})
MAX_EXAMPLES = 5
_DECODED_ONLY = "ok == True"  # row condition (as reported): sample property checks skip undecoded samples
_INDEX_COLUMNS = {
    "records": ["record_id"],
    "samples": ["record_id", "rule", "message"],  # the message keeps the offending values (e.g. channels)
    "labels": ["class"],
    "splits": ["split"],
}


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of :func:`validate_dataset`; ``failures`` holds one human line per failed rule."""

    passed: bool
    failures: list[str]
    summary_md: str
    docs_index: Path | None
    results_path: Path


@dataclass(frozen=True)
class Rule:
    """One GX check: ``expectation`` is a class name in ``great_expectations.expectations``."""

    name: str
    table: str  # "records" | "samples"
    expectation: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    decoded_only: bool = False  # restrict to sample rows with ok == True


def record_rules(
    *, n_classes: int, allowed_splits: Sequence[str], min_records: int, task: str = "multilabel"
) -> list[Rule]:
    """The suite run on the index records (one row per accepted record, split = the split it will get)."""
    t = "records"
    rules = [
        Rule("record_id_not_null", t, "ExpectColumnValuesToNotBeNull", {"column": "record_id"}),
        Rule("record_id_unique", t, "ExpectColumnValuesToBeUnique", {"column": "record_id"}),
        Rule("patient_id_not_null", t, "ExpectColumnValuesToNotBeNull", {"column": "patient_id"}),
        Rule(
            "target_len",
            t,
            "ExpectColumnValuesToBeBetween",
            {"column": "target_len", "min_value": n_classes, "max_value": n_classes},
        ),
        Rule(
            "split_allowed",
            t,
            "ExpectColumnValuesToBeInSet",
            {"column": "split", "value_set": sorted(allowed_splits)},
        ),
        Rule("min_records", t, "ExpectTableRowCountToBeBetween", {"min_value": min_records}),
    ]
    if task == "regression":  # a raw value per record: it must be known
        rules.append(
            Rule(
                "target_known",
                t,
                "ExpectColumnValuesToBeBetween",
                {"column": "target_nan_fraction", "max_value": 0},
            )
        )
    else:  # 0/1 labels (NaN = unknown)
        rules += [
            Rule(
                "target_range", t, "ExpectColumnValuesToBeBetween", {"column": "target_min", "min_value": 0}
            ),
            Rule(
                "target_range", t, "ExpectColumnValuesToBeBetween", {"column": "target_max", "max_value": 1}
            ),
        ]
    return rules


def label_rules(task: str, max_prevalence: float) -> list[Rule]:
    """Per-class prevalence bounds: a class that is (almost) always positive means a broken label mapping."""
    if task == "regression":
        return []
    return [
        Rule(
            "label_prevalence",
            "labels",
            "ExpectColumnValuesToBeBetween",
            {"column": "prevalence", "min_value": 0.0, "max_value": max_prevalence},
        ),
        Rule(
            "label_any_positive",
            "labels",
            "ExpectColumnSumToBeBetween",
            {"column": "n_positive", "min_value": 1},
        ),
    ]


def _train_fraction_rule(min_train_fraction: float) -> list[Rule]:
    """Split proportions: a train split exists and holds at least ``min_train_fraction`` of the records."""
    return [
        Rule(
            "split_has_train",
            "splits",
            "ExpectColumnDistinctValuesToContainSet",
            {"column": "split", "value_set": ["train"]},
        ),
        Rule(
            "split_train_fraction",
            "splits",
            "ExpectColumnValuesToBeBetween",
            {"column": "train_fraction", "min_value": min_train_fraction},
        ),
    ]


def label_table(records: pd.DataFrame, classes: Sequence[str], targets: np.ndarray) -> pd.DataFrame:
    """One row per class: known labels, positives and prevalence among known labels."""
    known = ~np.isnan(targets) if targets.size else np.zeros((0, len(classes)), bool)
    n_known = known.sum(axis=0) if targets.size else np.zeros(len(classes), int)
    n_pos = (
        np.where(known, targets == 1.0, False).sum(axis=0) if targets.size else np.zeros(len(classes), int)
    )
    return pd.DataFrame(
        {
            "class": list(classes),
            "n_known": n_known.astype(int),
            "n_positive": n_pos.astype(int),
            "prevalence": np.where(n_known > 0, n_pos / np.maximum(n_known, 1), 0.0),
        }
    )


def split_table(records: pd.DataFrame) -> pd.DataFrame:
    """One row per split with its record count and fraction (train first)."""
    counts = records["split"].astype(str).value_counts()
    order = [s for s in ("train", "val", "test") if s in counts] + sorted(
        set(counts.index) - {"train", "val", "test"}
    )
    total = max(int(counts.sum()), 1)
    train = counts.get("train", 0) / total
    return pd.DataFrame(
        {
            "split": order,
            "n_records": [int(counts[s]) for s in order],
            "fraction": [counts[s] / total for s in order],
            "train_fraction": [train] * len(order),
        }
    )


def sample_rules(expected_sample: Mapping[str, Any], decoded_mostly: float = 1.0) -> list[Rule]:
    """The suite run on the decoded sample records; ``expected_sample`` keys are in :data:`SAMPLE_KEYS`.

    ``decoded_mostly`` is the fraction of sampled records that must decode (the rest are quarantined later by
    standardize); the default demands all of them.
    """
    unknown = sorted(set(expected_sample) - SAMPLE_KEYS)
    if unknown:
        logger.warning("expected_sample keys %s are not checked (known: %s)", unknown, sorted(SAMPLE_KEYS))
    t = "samples"
    rules = [
        Rule(
            "sample_decoded",
            t,
            "ExpectColumnValuesToBeInSet",
            {"column": "ok", "value_set": [True], "mostly": decoded_mostly},
        ),
        Rule(
            "sample_finite",
            t,
            "ExpectColumnValuesToBeInSet",
            {"column": "finite", "value_set": [True]},
            decoded_only=True,
        ),
    ]
    if "ndim" in expected_sample:
        nd = int(expected_sample["ndim"])
        rules.append(
            Rule(
                "sample_ndim",
                t,
                "ExpectColumnValuesToBeBetween",
                {"column": "ndim", "min_value": nd, "max_value": nd},
                decoded_only=True,
            )
        )
    if "min_sampling_rate" in expected_sample:
        rules.append(
            Rule(
                "sample_sampling_rate",
                t,
                "ExpectColumnValuesToBeBetween",
                {"column": "sampling_rate", "min_value": expected_sample["min_sampling_rate"]},
                decoded_only=True,
            )
        )
    if "min_dim" in expected_sample:
        for col in ("dim0", "dim1"):
            rules.append(
                Rule(
                    "sample_min_dim",
                    t,
                    "ExpectColumnValuesToBeBetween",
                    {"column": col, "min_value": expected_sample["min_dim"]},
                    decoded_only=True,
                )
            )
    return rules


def suite_name(dataset: str, table: str) -> str:
    return f"climbflow.{dataset}.{table}"


def validate_dataset(
    records: pd.DataFrame,
    samples: pd.DataFrame,
    *,
    dataset: str,
    n_classes: int,
    allowed_splits: list[str],
    expected_sample: dict,
    out_dir: Path,
    max_quarantine_fraction: float,
    n_rejected: int,
    min_records: int,
    task: str = "multilabel",
    labels: pd.DataFrame | None = None,
    max_prevalence: float = 0.98,
    min_train_fraction: float = 0.3,
) -> ValidationResult:
    """Validate one dataset's index records and decoded samples; write Data Docs, JSON and Markdown reports.

    Writes ``out_dir/validation.json`` (deterministic for the same inputs), ``out_dir/summary.md`` and the
    Data Docs site under ``out_dir/data_docs/`` (rebuilt from scratch on every call).
    Raises ``ValueError`` if a frame lacks one of :data:`RECORD_COLUMNS` / :data:`SAMPLE_COLUMNS`.
    """
    out_dir = Path(out_dir)
    if "content_sha256" not in records.columns:
        records = records.assign(content_sha256=None)
    if "message" not in samples.columns:  # the decode error, with the offending values
        samples = samples.assign(message=None)
    tables = {
        "records": _frame(records, RECORD_COLUMNS, "records"),
        "samples": _frame(samples, SAMPLE_COLUMNS, "samples"),
        "splits": _frame(split_table(records), SPLIT_COLUMNS, "splits"),
    }
    rules = record_rules(
        n_classes=n_classes, allowed_splits=allowed_splits, min_records=min_records, task=task
    )
    rules += sample_rules(expected_sample, decoded_mostly=1.0 - max_quarantine_fraction)
    rules += _train_fraction_rule(min_train_fraction)
    if labels is not None and task != "regression":
        tables["labels"] = _frame(labels, LABEL_COLUMNS, "labels")
        rules += label_rules(task, max_prevalence)

    out_dir.mkdir(parents=True, exist_ok=True)
    docs_dir = out_dir / "data_docs"
    gx_version, suites, checks, docs_index = _run_gx(tables, rules, dataset=dataset, docs_dir=docs_dir)
    checks += [
        leakage_check(tables["records"]),
        duplicate_content_check(tables["records"]),
        _quarantine_check(n_rejected, len(tables["records"]), max_quarantine_fraction),
    ]
    failures = [c["message"] for c in checks if not c["success"]]
    passed = not failures

    report = {
        "dataset": dataset,
        "verdict": "PASSED" if passed else "FAILED",
        "passed": passed,
        "great_expectations_version": gx_version,
        "inputs": {
            "n_records": len(tables["records"]),
            "n_samples": len(tables["samples"]),
            "n_rejected": int(n_rejected),
            "n_classes": int(n_classes),
            "allowed_splits": sorted(allowed_splits),
            "expected_sample": dict(expected_sample),
            "max_quarantine_fraction": max_quarantine_fraction,
            "min_records": int(min_records),
            "task": task,
            "max_prevalence": max_prevalence,
            "min_train_fraction": min_train_fraction,
        },
        "suites": suites,
        "checks": checks,
        "failures": failures,
        "data_docs": docs_index.relative_to(out_dir).as_posix() if docs_index else None,
    }
    results_path = out_dir / "validation.json"
    results_path.write_text(json.dumps(_jsonable(report), sort_keys=True, indent=2, allow_nan=False) + "\n")
    offline_docs.write(
        out_dir, _jsonable(report)
    )  # validation.html: renders offline, unlike the GX Data Docs
    summary_md = _summary_md(dataset, passed, checks, report["inputs"], docs_index, out_dir)
    (out_dir / "summary.md").write_text(summary_md)
    if passed:
        logger.info("validation of %s PASSED (%d checks)", dataset, len(checks))
    else:
        logger.warning("validation of %s FAILED: %d failed rule(s)", dataset, len(failures))
    return ValidationResult(
        passed=passed,
        failures=failures,
        summary_md=summary_md,
        docs_index=docs_index,
        results_path=results_path,
    )


# --------------------------------------------------------------------------------------------- GX adapter


def _import_gx() -> Any:
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx

    return gx


def _new_context(gx: Any, docs_dir: Path) -> Any:
    """An ephemeral context: in-memory stores, no analytics, no progress bars, one local Data Docs site."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    site = {
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
    }
    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={SITE_NAME: site},
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _run_gx(
    tables: dict[str, pd.DataFrame], rules: list[Rule], *, dataset: str, docs_dir: Path
) -> tuple[str, dict[str, Any], list[dict[str, Any]], Path | None]:
    """Run one GX suite per table; return (GX version, per-suite statistics, per-rule checks, docs index)."""
    gx = _import_gx()
    if docs_dir.exists():
        shutil.rmtree(docs_dir)
    context = _new_context(gx, docs_dir)
    source = context.data_sources.add_pandas(name=DATASOURCE_NAME)
    suites: dict[str, Any] = {}
    checks: list[dict[str, Any]] = []
    for table, frame in tables.items():
        table_rules = [r for r in rules if r.table == table]
        batch_definition = source.add_dataframe_asset(name=table).add_batch_definition_whole_dataframe(
            f"{table}_whole"
        )
        suite = context.suites.add(gx.ExpectationSuite(name=suite_name(dataset, table)))
        for i, rule in enumerate(table_rules):
            suite.add_expectation(_expectation(gx, rule, i))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite.name}.validation", data=batch_definition, suite=suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": frame},
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": MAX_EXAMPLES,
                "unexpected_index_column_names": _INDEX_COLUMNS[table],
            },
        )
        by_index = {r.expectation_config.meta["climbflow_index"]: r for r in result.results}
        table_checks = [_gx_check(rule, by_index.get(i)) for i, rule in enumerate(table_rules)]
        checks += table_checks
        suites[table] = {
            "name": suite.name,
            "success": all(c["success"] for c in table_checks),
            "evaluated": len(table_checks),
            "failed": sum(not c["success"] for c in table_checks),
        }
        logger.info("GX suite %s: %s", suite.name, "passed" if suites[table]["success"] else "failed")
    docs_index: Path | None = None
    try:
        context.build_data_docs(site_names=[SITE_NAME])
        docs_index = docs_dir / "index.html" if (docs_dir / "index.html").is_file() else None
    except Exception:  # Data Docs are a report only; the verdict stands without them
        logger.exception("building Data Docs under %s failed", docs_dir)
    if docs_index is None:
        logger.warning("no Data Docs index under %s", docs_dir)
    return gx.__version__, suites, checks, docs_index


def _expectation(gx: Any, rule: Rule, index: int) -> Any:
    kwargs = dict(rule.kwargs)
    if rule.decoded_only:
        from great_expectations.expectations.row_conditions import Column

        kwargs["row_condition"] = Column("ok") == True  # noqa: E712 -- builds a GX Condition, not a bool
    meta = {"climbflow_rule": rule.name, "climbflow_index": index}
    return getattr(gx.expectations, rule.expectation)(**kwargs, meta=meta)


def _gx_check(rule: Rule, outcome: Any) -> dict[str, Any]:
    """One deterministic check record (no ids, no timestamps) from a GX ExpectationValidationResult."""
    check: dict[str, Any] = {
        "rule": rule.name,
        "engine": "great_expectations",
        "table": rule.table,
        "column": rule.kwargs.get("column"),
        "kwargs": {k: v for k, v in rule.kwargs.items() if k != "column"},
        "row_condition": _DECODED_ONLY if rule.decoded_only else None,
    }
    if outcome is None:  # should not happen; never let a missing result pass silently
        check.update(expectation_type=None, success=False, message=f"{rule.name}: no GX result")
        return check
    info = outcome.exception_info or {}
    raised = bool(info.get("raised_exception"))
    res = outcome.result or {}
    examples = [_example(e) for e in (res.get("partial_unexpected_index_list") or [])]
    if not examples:
        examples = [_plain(v) for v in (res.get("partial_unexpected_list") or [])]
    check.update(
        expectation_type=outcome.expectation_config.type,
        success=bool(outcome.success) and not raised,
        observed_value=_plain(res.get("observed_value")),
        element_count=_plain(res.get("element_count")),
        unexpected_count=_plain(res.get("unexpected_count")),
        missing_count=_plain(res.get("missing_count")),
        unexpected_examples=examples[:MAX_EXAMPLES],
        exception=(str(info.get("exception_message")).splitlines()[0] if raised else None),
    )
    check["message"] = _gx_message(check)
    return check


# ------------------------------------------------------------------------------------------ pandas checks


def leakage_check(records: pd.DataFrame) -> dict[str, Any]:
    """A patient in more than one (non-null) split leaks between train and evaluation data."""
    labelled = records.loc[records["split"].notna() & records["patient_id"].notna(), ["patient_id", "split"]]
    splits = labelled.astype(str).groupby("patient_id")["split"].agg(lambda s: sorted(set(s)))
    leaked = splits[splits.map(len) > 1].sort_index()
    examples = [{"patient_id": pid, "splits": s} for pid, s in leaked.head(MAX_EXAMPLES).items()]
    check = {
        "rule": "patient_leakage",
        "engine": "pandas",
        "table": "records",
        "column": "patient_id",
        "success": leaked.empty,
        "unexpected_count": len(leaked),
        "unexpected_examples": examples,
    }
    shown = ", ".join(f"{e['patient_id']} ({'/'.join(e['splits'])})" for e in examples)
    check["message"] = (
        f"patient_leakage: records.patient_id: {len(leaked)} patient(s) in more than one split, e.g. {shown}"
        if len(leaked)
        else "patient_leakage: records.patient_id: every patient is in a single split"
    )
    return check


def duplicate_content_check(records: pd.DataFrame) -> dict[str, Any]:
    """The same file content (sha256) in two splits leaks an example from training into evaluation."""
    rows = records.loc[
        records["content_sha256"].notna() & records["split"].notna(), ["content_sha256", "split", "record_id"]
    ]
    by_hash = (
        rows.astype(str)
        .groupby("content_sha256")
        .agg(splits=("split", lambda s: sorted(set(s))), records=("record_id", list))
    )
    leaked = by_hash[by_hash["splits"].map(len) > 1].sort_index()
    examples = [
        {"sha256": h[:12], "splits": r["splits"], "records": sorted(r["records"])[:3]}
        for h, r in leaked.head(MAX_EXAMPLES).iterrows()
    ]
    shown = ", ".join(f"{'/'.join(e['records'])} ({'/'.join(e['splits'])})" for e in examples)
    return {
        "rule": "duplicate_content_across_splits",
        "engine": "pandas",
        "table": "records",
        "column": "content_sha256",
        "success": leaked.empty,
        "unexpected_count": len(leaked),
        "unexpected_examples": examples,
        "message": (
            f"duplicate_content_across_splits: {len(leaked)} identical file(s) in more than one split, e.g. {shown}"
            if len(leaked)
            else "duplicate_content_across_splits: no file content is shared between splits"
        ),
    }


def _quarantine_check(n_rejected: int, n_accepted: int, max_fraction: float) -> dict[str, Any]:
    """Too many records refused at indexing means the copy (or the catalog entry) is broken."""
    total = n_rejected + n_accepted
    fraction = n_rejected / total if total else 0.0
    return {
        "rule": "quarantine_fraction",
        "engine": "pandas",
        "table": "records",
        "column": None,
        "success": fraction <= max_fraction,
        "observed_value": round(fraction, 6),
        "kwargs": {"max_value": max_fraction},
        "message": (
            f"quarantine_fraction: {n_rejected} of {total} index records rejected "
            f"({fraction:.1%} {'<=' if fraction <= max_fraction else '>'} max {max_fraction:.1%})"
        ),
    }


# ---------------------------------------------------------------------------------------------- rendering


def _gx_message(check: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in sorted(check["kwargs"].items()))
    where = f"{check['table']}.{check['column']}" if check["column"] else check["table"]
    head = f"{check['rule']}: {where}: {check['expectation_type']}({args})"
    if check["exception"]:
        return f"{head} raised: {check['exception']}"
    if check["success"]:
        return f"{head}: passed"
    if check["unexpected_count"] is not None:
        shown = ", ".join(_show(e) for e in check["unexpected_examples"])
        return f"{head}: {check['unexpected_count']} of {check['element_count']} unexpected, e.g. {shown}"
    return f"{head}: observed {check['observed_value']!r}"


def _show(example: Any) -> str:
    if not isinstance(example, dict):
        return repr(example)
    rest = [f"{k}={v!r}" for k, v in sorted(example.items()) if k != "record_id"]
    rid = example.get("record_id")
    if rid is None:
        return ", ".join(rest)
    return f"{rid} ({', '.join(rest)})" if rest else str(rid)


def _summary_md(
    dataset: str,
    passed: bool,
    checks: list[dict[str, Any]],
    inputs: dict[str, Any],
    docs_index: Path | None,
    out_dir: Path,
) -> str:
    failed = [c for c in checks if not c["success"]]
    lines = [
        f"# Validation of `{dataset}`: {'PASSED' if passed else 'FAILED'}",
        "",
        f"- index records: {inputs['n_records']} accepted, {inputs['n_rejected']} rejected",
        f"- decoded samples checked: {inputs['n_samples']}",
        f"- checks: {len(checks) - len(failed)} passed, {len(failed)} failed",
    ]
    if docs_index is not None:
        lines.append(f"- Data Docs: `{docs_index.relative_to(out_dir).as_posix()}`")
    lines.append(f"- report (renders offline): `{offline_docs.REPORT_FILE}`")
    lines += ["", "## Failed rules" if failed else "All checks passed.", ""]
    lines += [f"- {c['message']}" for c in failed]
    return "\n".join(lines).rstrip() + "\n"


# ------------------------------------------------------------------------------------------------ helpers


def _frame(frame: pd.DataFrame, columns: Sequence[str], what: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s) {missing}")
    return frame.reset_index(drop=True)


def _example(index_row: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _plain(v) for k, v in index_row.items() if _plain(v) is not None}


def _plain(value: Any) -> Any:
    """Python scalar for a numpy/pandas one; None for missing values."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    """Strict-JSON form: numpy scalars unwrapped, NaN/inf as strings, tuples/sets as lists."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value
