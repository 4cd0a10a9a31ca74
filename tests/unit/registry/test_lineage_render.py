"""Lineage renderers and diff over recorded facts (no MLflow): missing links stay visible, URLs are redacted,
the HTML page is self-contained and renders in headless Chromium."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from climbflow.registry.lineage import (
    _redact,
    diff_facts,
    facts,
    missing,
    parse_ref,
    to_html,
    to_json,
    to_rich,
)

CHROMIUM = "/usr/bin/chromium"


def tree(version="3", chexpert="aaa.dir", seed="0", commit="c0ffee") -> dict:
    return _redact(
        {
            "ref": f"climb-chexpert/{version}",
            "model": "climb-chexpert",
            "version": version,
            "aliases": ["champion"],
            "metrics": {"macro_auc": "0.81"},
            "test_split_hash": "f" * 64,
            "data_versions": {"chexpert": chexpert},
            "evaluate": {
                "stage": "evaluate",
                "name": "chexpert",
                "pipeline_run": {
                    "pipeline_run_id": "local-1",
                    "git_commit": commit,
                    "image": "local",
                    "params": {"seed": seed, "pretrain.epochs": "1"},
                },
                "finetune": {
                    "stage": "finetune",
                    "name": "chexpert",
                    "pretrain": missing("no pretrain run recorded"),
                },
            },
            "datasets": [
                {
                    "dataset": "chexpert",
                    "data_version_used": chexpert,
                    "validation": {
                        "passed": "True",
                        "data_docs": {"artifact": "s3://key:secret@bucket/docs"},
                    },
                    "raw_snapshot": {
                        "snapshot_id": "snap-" + chexpert,
                        "source_uri": "s3://ak:sk@raw/chexpert",
                        "n_files": 12,
                        "sha256_manifest": {"uri": "/ws/raw/chexpert/x/files.parquet", "present": True},
                    },
                }
            ],
        }
    )


def test_parse_ref():
    assert parse_ref("climb-ptbxl@champion") == ("climb-ptbxl", "alias", "champion")
    assert parse_ref("climb-ptbxl/3") == ("climb-ptbxl", "version", "3")
    with pytest.raises(ValueError, match="MODEL@ALIAS"):
        parse_ref("climb-ptbxl")


def test_credentials_are_redacted_and_missing_links_shown():
    t = tree()
    text = to_json(t)
    assert "secret" not in text and "sk@" not in text and "s3://***@raw/chexpert" in text
    assert json.loads(text)["evaluate"]["finetune"]["pretrain"] == {"missing": "no pretrain run recorded"}
    from rich.console import Console

    console = Console(record=True, width=160, file=io.StringIO())
    console.print(to_rich(t))
    shown = console.export_text()
    assert "pretrain: MISSING (no pretrain run recorded)" in shown
    assert "params: 2 recorded" in shown and "climb-chexpert/3 @champion" in shown


def test_diff_lists_only_what_differs():
    d = diff_facts(facts(tree("1", "aaa.dir")), facts(tree("2", "bbb.dir")))
    assert d["data_versions"] == {"chexpert": {"a": "aaa.dir", "b": "bbb.dir"}}
    assert d["snapshots"] == {"chexpert": {"a": "snap-aaa.dir", "b": "snap-bbb.dir"}}
    assert d["params"] == {} and d["code"] == {} and d["metrics"] == {}
    d2 = diff_facts(facts(tree(seed="1", commit="beef")), facts(tree()))
    assert d2["params"] == {"seed": {"a": "1", "b": "0"}} and d2["code"]["git_commit"] == {
        "a": "beef",
        "b": "c0ffee",
    }


def test_html_is_self_contained():
    page = to_html(tree())
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    for external in ("http://", "https://", "<script", "<link", "src="):
        assert external not in page
    assert "secret" not in page


def test_html_renders_in_headless_chromium(tmp_path: Path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium): HTML lineage not rendered")
    page = tmp_path / "lineage.html"
    page.write_text(to_html(tree()))
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "Lineage of climb-chexpert/3" in dom and 'id="lineage"' in dom
    assert 'data-missing="pretrain"' in dom and "no pretrain run recorded" in dom
    assert "s3://***@raw/chexpert" in dom and "raw_snapshot" in dom


def _tree_text(t: dict) -> list[str]:
    from rich.console import Console

    console = Console(record=True, width=160, file=io.StringIO())
    console.print(to_rich(t))
    return [line.strip(" │├└─") for line in console.export_text().splitlines()]


def test_tree_says_each_name_once_and_no_empty_node():
    """Headings like 'evaluate chexpert' (not 'evaluate evaluate chexpert'); a version never gated and a
    validation without failures read 'none', an unrecorded optional value 'not recorded'."""
    t = tree()
    t["promotion"] = {}
    t["evaluate"]["cache_hit"] = None
    t["datasets"][0]["validation"] |= {"stage": "validate", "name": "chexpert", "failures": []}
    lines = _tree_text(t)
    assert "evaluate chexpert" in lines and "finetune" in lines  # its target is said by the heading above
    assert "validation" in lines and "chexpert" in lines  # the dataset's own heading says chexpert
    assert "promotion: none" in lines and "failures: none" in lines and "cache_hit: not recorded" in lines
    assert not [line for line in lines if line.endswith(":") or "evaluate evaluate" in line]
    assert not [line for line in lines if line.startswith(("stage:", "name:", "dataset:"))]
    page = to_html(t)
    assert "evaluate evaluate" not in page and '<span class="k">evaluate chexpert</span>' in page
    assert '<span class="k">promotion</span>: <span class="v">none</span>' in page
