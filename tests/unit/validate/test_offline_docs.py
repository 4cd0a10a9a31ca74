"""validation.html, the validation report that renders offline: written by every validation, self-contained, and
rendered by headless Chromium with the network off (tables present, styles applied)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.unit.validate.test_suites import good_records, run

CHROMIUM = "/usr/bin/chromium"
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9"]  # no network
FAIL_RED = (0xB3, 0x26, 0x1E)  # the FAILED badge's background in validation.html's inline CSS


@pytest.fixture(scope="module")
def failed(tmp_path_factory) -> Path:
    """A validation that fails one rule: record r001 appears twice."""
    records = good_records()
    records.loc[1, "record_id"] = "r000"
    out = tmp_path_factory.mktemp("failed")
    result = run(out, records=records)
    assert not result.passed
    return out


def test_every_validation_writes_the_offline_report(failed: Path):
    page = (failed / "validation.html").read_text()
    assert "<title>Validation of toy_ecg: FAILED</title>" in page
    assert "record_id_unique" in page and "climbflow.toy_ecg.records" in page
    assert "`validation.html`" in (failed / "summary.md").read_text()


def test_offline_report_is_self_contained(failed: Path):
    page = (failed / "validation.html").read_text()
    for external in ("http://", "https://", "<script", "<link", "src=", "@import", "url("):
        assert external not in page, external
    # the reason it exists: the GX Data Docs beside it need CDNs
    assert "https://" in (failed / "data_docs" / "index.html").read_text()


def test_offline_report_escapes_what_the_data_says(tmp_path: Path):
    records = good_records()
    records.loc[1, "record_id"] = "<img src=x onerror=alert(1)>"
    records.loc[2, "record_id"] = "<img src=x onerror=alert(1)>"
    run(tmp_path, records=records)
    page = (tmp_path / "validation.html").read_text()
    assert "<img" not in page and "&lt;img src=x" in page


def _chromium(*args: str) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium): offline report not rendered")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *OFFLINE, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


@pytest.mark.integration  # a real headless Chromium
def test_offline_report_renders_in_chromium_with_the_network_off(failed: Path, tmp_path: Path):
    page = (failed / "validation.html").as_uri()
    dom = _chromium("--dump-dom", page).stdout
    assert '<span class="verdict failed">FAILED</span>' in dom
    assert '<tr class="fail"><td>record_id_unique</td><td>records</td><td>record_id</td>' in dom

    shot = tmp_path / "validation.png"
    _chromium("--window-size=1000,700", f"--screenshot={shot}", page)
    from PIL import Image

    pixels = Image.open(shot).convert("RGB").getdata()
    red = sum(1 for p in pixels if all(abs(a - b) <= 6 for a, b in zip(p, FAIL_RED, strict=True)))
    assert red > 200, "the FAILED badge is not styled: the inline CSS did not apply"
