"""The PHI report: no identifying value survives de-identification, and the removed tags are listed."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from climbflow.catalog.dicom import Deidentifier
from climbflow.hardening import phi_report


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> phi_report.Report:
    return phi_report.run(tmp_path_factory.mktemp("phi"))


def test_no_phi_survives_on_any_fixture(report):
    assert report.survivors == []
    sources = {f.source.split(":")[0] for f in report.checked}
    assert {"sample", "bad"} <= sources
    assert {f.source for f in report.checked} >= {"sample:vindr_cxr", "sample:cbis_ddsm", "bad:dicom_bomb"}
    assert len(report.checked) >= 40
    unreadable = {f.source for f in report.files if f.status == "unreadable"}
    assert unreadable <= {"bad:dicom_empty", "bad:dicom_not_dicom", "bad:dicom_truncated"}


def test_report_lists_removed_and_replaced_tags(report):
    removed, replaced = report.removed_counts(), report.replaced_counts()
    for keyword in ("InstitutionName", "PatientBirthDate", "ReferringPhysicianName", "PatientAddress"):
        assert removed[keyword] > 0, keyword
    for keyword in ("PatientID", "PatientName", "StudyDate", "SOPInstanceUID"):
        assert replaced[keyword] == len(report.checked), keyword
    text = report.render()
    assert "0 PHI values surviving" in text and "InstitutionName" in text and "PatientID" in text


def test_the_check_finds_phi_when_it_is_not_removed(report, tmp_path):
    """The search is not vacuous: the raw header of a sample file holds values the check looks for."""
    path = next(f.path for f in report.checked if f.source == "sample:vindr_cxr")
    raw = pydicom.dcmread(path, stop_before_pixels=True)
    values = phi_report.identifying_values(raw)
    assert {"PatientName", "PatientID", "InstitutionName"} <= set(values)
    raw_text = phi_report._text_of(raw)
    assert all(any(v in raw_text for v in vs) for vs in values.values())

    class Leaky(Deidentifier):  # forgets to remove the institution
        def deidentify(self, ds, fallback_key):
            out = super().deidentify(ds, fallback_key)
            out.dataset.InstitutionName = ds.InstitutionName
            return out

    result = phi_report.check_file(Path(path), "x", Leaky(b"s"))
    assert "InstitutionName" in result.survivors


def test_command_prints_the_report(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(phi_report.tempfile, "TemporaryDirectory", lambda **kw: _Dir(tmp_path))
    assert phi_report.main([]) == 0
    out = capsys.readouterr().out
    assert "0 PHI values surviving" in out and "removed / emptied" in out


class _Dir:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return str(self.path)

    def __exit__(self, *exc):
        return False
