"""The PHI report: no identifying value survives de-identification, and the removed tags are listed."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from climbflow.catalog.dicom import ALLOW_LIST, Deidentifier
from climbflow.hardening import phi_report
from climbflow.sampledata.dicom_images import PHI_MARKER


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> phi_report.Report:
    return phi_report.run(tmp_path_factory.mktemp("phi"))


def test_no_phi_survives_on_any_fixture(report):
    assert report.survivors == []
    sources = {f.source for f in report.checked}
    assert sources >= {"sample:vindr_cxr", "sample:cbis_ddsm", "bad:dicom_bomb", "marker"}
    assert {"bad:dicom_zero_spacing", "bad:cbis_dicom_negative_spacing"} <= sources
    assert len(report.checked) >= 40
    unreadable = {f.source for f in report.files if f.status == "unreadable"}
    assert unreadable <= {"bad:dicom_empty", "bad:dicom_not_dicom", "bad:dicom_truncated"}


def test_report_lists_removed_and_replaced_tags(report):
    removed, replaced = report.removed_counts(), report.replaced_counts()
    for keyword in ("InstitutionName", "PatientBirthDate", "ReferringPhysicianName", "ReasonForStudy"):
        assert removed[keyword] > 0, keyword
    for keyword in ("PatientID", "PatientName", "StudyDate", "SOPInstanceUID"):
        assert replaced[keyword] == len(report.checked), keyword
    text = report.render()
    assert "0 PHI values surviving" in text and "InstitutionName" in text and "PatientID" in text


def test_candidate_phi_is_chosen_by_vr_not_by_the_allow_list(report):
    """The values searched for come from the raw header's VRs: attributes on no list are among them."""
    path = next(f.path for f in report.checked if f.source == "marker")
    raw = pydicom.dcmread(path, stop_before_pixels=True)
    values = phi_report.identifying_values(raw)
    assert {"ReasonForStudy", "RequestedProcedureComments", "LUTExplanation", "CodeMeaning"} <= set(values)
    kept = {k for k, a in ALLOW_LIST.items() if a == "K"}
    assert set(values) & kept == {"ViewPosition"}  # the one kept tag the file writes with a free-text VR
    assert any(k.startswith("(0009,") for k in values)  # private elements, any VR
    assert PHI_MARKER in values["ReasonForStudy"]


def test_the_check_finds_a_value_the_deidentifier_lets_through(report):
    """Not vacuous: a de-identifier that keeps one unlisted attribute (as a deny-list did) is caught."""
    path = Path(next(f.path for f in report.checked if f.source == "marker"))

    class Leaky(Deidentifier):  # keeps an attribute no PS3.15 list names
        def deidentify(self, ds, fallback_key):
            out = super().deidentify(ds, fallback_key)
            out.dataset.RequestedProcedureComments = ds.RequestedProcedureComments
            return out

    result = phi_report.check_file(path, "x", Leaky(b"s"))
    assert "RequestedProcedureComments" in result.survivors  # (and every attribute holding the same marker)
    assert phi_report.check_file(path, "x", Deidentifier(b"s")).survivors == []


def test_needs_no_test_suite():
    assert "tests." not in Path(phi_report.__file__).read_text()


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
