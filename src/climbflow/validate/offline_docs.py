"""The validation report as one self-contained HTML page (``validation.html``) that renders offline.

Great Expectations' Data Docs load jQuery, Bootstrap and Vega from CDNs: on a hospital network (or in MLflow's
artifact viewer) they show an unstyled skeleton or a blank pane. This page is written beside them from the same
``validation.json``: inline CSS, no script, nothing fetched, so it looks the same anywhere.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

REPORT_FILE = "validation.html"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2733;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid #d8dee6}
.verdict{display:inline-block;padding:3px 12px;border-radius:4px;color:#fff;font-weight:600}
.passed{background:#1e7f4f} .failed{background:#b3261e}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #d8dee6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef2f6} tr.fail td{background:#fdecea} td.num{text-align:right}
.ok{color:#1e7f4f;font-weight:600} .bad{color:#b3261e;font-weight:600}
code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f3f5f8;padding:0 3px}
.meta{color:#5b6776}
"""


def render(report: dict[str, Any]) -> str:
    """The page for one ``validation.json`` report: verdict, failed rules, inputs, suites and every check."""
    dataset = str(report.get("dataset", "?"))
    passed = bool(report.get("passed"))
    verdict = "PASSED" if passed else "FAILED"
    parts = [
        f'<h1>Validation of {_e(dataset)} <span class="verdict {verdict.lower()}">{verdict}</span></h1>',
        f'<p class="meta">Great Expectations {_e(report.get("great_expectations_version", "?"))}; '
        f"{len(report.get('checks', []))} checks. Full GX Data Docs: "
        f"<code>{_e(report.get('data_docs') or 'not built')}</code></p>",
    ]
    if report.get("failures"):
        items = "".join(f"<li>{_e(f)}</li>" for f in report["failures"])
        parts.append(f"<h2>Failed rules</h2><ul>{items}</ul>")
    inputs = report.get("inputs") or {}
    parts.append("<h2>Inputs</h2>" + _table(["input", "value"], [[k, _plain(v)] for k, v in inputs.items()]))
    suites = report.get("suites") or {}
    rows = [
        [s.get("name", table), _status(s.get("success")), s.get("evaluated"), s.get("failed")]
        for table, s in suites.items()
    ]
    parts.append("<h2>Suites</h2>" + _table(["suite", "result", "checks", "failed"], rows))
    checks = report.get("checks") or []
    rows = [
        [
            c.get("rule"),
            c.get("table"),
            c.get("column"),
            c.get("expectation_type") or c.get("engine"),
            _status(c.get("success")),
            c.get("unexpected_count"),
            _plain(c.get("unexpected_examples") or ""),
        ]
        for c in checks
    ]
    header = ["rule", "table", "column", "expectation", "result", "unexpected", "examples"]
    failed = [not c.get("success") for c in checks]
    parts.append("<h2>Checks</h2>" + _table(header, rows, failed))
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Validation of {_e(dataset)}: {verdict}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )


def write(out_dir: Path, report: dict[str, Any]) -> Path:
    """Write :func:`render` of ``report`` to ``out_dir/validation.html``; returns its path."""
    path = Path(out_dir) / REPORT_FILE
    path.write_text(render(report), encoding="utf-8")
    return path


def _table(header: list[str], rows: list[list[Any]], failed: list[bool] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="fail"' if failed and failed[i] else ""
        cells = "".join(_cell(v) for v in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, _Markup):
        return f"<td>{value}</td>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'<td class="num">{_e(value)}</td>'
    return f"<td>{_e('' if value is None else value)}</td>"


class _Markup(str):
    """Already-escaped HTML for a cell."""


def _status(success: Any) -> _Markup:
    return _Markup('<span class="ok">passed</span>' if success else '<span class="bad">failed</span>')


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _e(value: Any) -> str:
    return html.escape(str(value))
