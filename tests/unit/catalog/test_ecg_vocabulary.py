"""One ECG vocabulary: PTB-XL's SCP table and CinC's SNOMED table put the same finding in the same superclass,
and NORM only when nothing abnormal is present, so multi-task pretraining can merge their columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from climbflow import catalog
from climbflow.catalog.base import RawRecord
from climbflow.catalog.cinc2021 import SNOMED, Chapman, CinCOptions
from climbflow.catalog.ptbxl import CLASSES, PTBXL
from climbflow.stages import standardize
from climbflow.store import uri as uris

# Real rows of PTB-XL 1.0.3 scp_statements.csv (code, description, diagnostic, form, rhythm, diagnostic_class)
SCP_STATEMENTS = """\
,description,diagnostic,form,rhythm,diagnostic_class
NORM,normal ECG,1.0,,,NORM
1AVB,first degree AV block,1.0,,,CD
2AVB,second degree AV block,1.0,,,CD
3AVB,third degree AV block,1.0,,,CD
CLBBB,complete left bundle branch block,1.0,,,CD
CRBBB,complete right bundle branch block,1.0,,,CD
IRBBB,incomplete right bundle branch block,1.0,,,CD
ILBBB,incomplete left bundle branch block,1.0,,,CD
LAFB,left anterior fascicular block,1.0,,,CD
LPFB,left posterior fascicular block,1.0,,,CD
IVCD,non-specific intraventricular conduction disturbance (block),1.0,,,CD
WPW,Wolf-Parkinson-White syndrome,1.0,,,CD
LVH,left ventricular hypertrophy,1.0,,,HYP
RVH,right ventricular hypertrophy,1.0,,,HYP
LAO/LAE,left atrial overload/enlargement,1.0,,,HYP
RAO/RAE,right atrial overload/enlargement,1.0,,,HYP
AMI,anterior myocardial infarction,1.0,,,MI
LNGQT,long QT-interval,1.0,1.0,,STTC
NST_,non-specific ST changes,1.0,1.0,,STTC
ISC_,non-specific ischemic,1.0,,,STTC
STD_,non-specific ST depression,,1.0,,
STE_,non-specific ST elevation,,1.0,,
INVT,inverted T-waves,,1.0,,
TAB_,T-wave abnormality,,1.0,,
LPR,prolonged PR interval,,1.0,,
QWAVE,Q waves present,,1.0,,
VCLVH,voltage criteria (QRS) for left ventricular hypertrophy,,1.0,,
LVOLT,low QRS voltages in the frontal and horizontal leads,,1.0,,
ABQRS,abnormal QRS,,1.0,,
PVC,ventricular premature complex,,1.0,,
PAC,atrial premature complex,,1.0,,
SR,sinus rhythm,,,1.0,
AFIB,atrial fibrillation,,,1.0,
AFLT,atrial flutter,,,1.0,
STACH,sinus tachycardia,,,1.0,
SBRAD,sinus bradycardia,,,1.0,
SARRH,sinus arrhythmia,,,1.0,
PACE,normal functioning artificial pacemaker,,,1.0,
BIGU,bigeminal pattern (unknown origin: SV or Ventricular),,,1.0,
TRIGU,trigeminal pattern (unknown origin: SV or Ventricular),,,1.0,
SVTAC,supraventricular tachycardia,,,1.0,
PSVT,paroxysmal supraventricular tachycardia,,,1.0,
"""
# The oracle, by hand: (PTB-XL SCP code, CinC 2021 SNOMED-CT code + dx_mapping abbreviation, finding's class)
SAME_FINDING: list[tuple[str, str, str]] = [
    ("NORM", "426783006", "NORM"),  # normal ECG / NSR (alone)
    ("1AVB", "270492004", "CD"),  # IAVB
    ("2AVB", "195042002", "CD"),  # IIAVB
    ("3AVB", "27885002", "CD"),  # CHB
    ("CLBBB", "733534002", "CD"),  # CLBBB
    ("CRBBB", "713427006", "CD"),  # CRBBB
    ("IRBBB", "713426002", "CD"),  # IRBBB
    ("ILBBB", "251120003", "CD"),  # ILBBB
    ("LAFB", "445118002", "CD"),  # LAnFB
    ("LPFB", "445211001", "CD"),  # LPFB
    ("IVCD", "698252002", "CD"),  # NSIVCB
    ("WPW", "74390002", "CD"),  # WPW
    ("LPR", "164947007", "CD"),  # LPR: prolonged PR, a PTB-XL form statement
    ("LVH", "164873001", "HYP"),  # LVH
    ("RVH", "89792004", "HYP"),  # RVH
    ("LAO/LAE", "67741000119109", "HYP"),  # LAE
    ("RAO/RAE", "446358003", "HYP"),  # RAH
    ("VCLVH", "55827005", "HYP"),  # LVHV: left ventricular high voltage, a PTB-XL form statement
    ("AMI", "54329005", "MI"),  # AnMI: anterior myocardial infarction
    ("QWAVE", "164917005", "MI"),  # QAb, a PTB-XL form statement
    ("LNGQT", "111975006", "STTC"),  # LQT
    ("NST_", "428750005", "STTC"),  # NSSTTA
    ("ISC_", "164861001", "STTC"),  # MIs: myocardial ischemia
    ("STD_", "429622005", "STTC"),  # STD, a PTB-XL form statement
    ("STE_", "164931005", "STTC"),  # STE, a PTB-XL form statement
    ("INVT", "59931005", "STTC"),  # TInv, a PTB-XL form statement
    ("TAB_", "164934002", "STTC"),  # TAb, a PTB-XL form statement
    ("AFIB", "164889003", "AFIB"),  # AF
    ("AFLT", "164890007", "AFIB"),  # AFL
    ("STACH", "427084000", "OTHER"),  # STach
    ("SBRAD", "426177001", "OTHER"),  # SB
    ("SARRH", "427393009", "OTHER"),  # SA
    ("PACE", "10370003", "OTHER"),  # PR: pacing rhythm
    ("PVC", "427172004", "OTHER"),  # PVC
    ("PAC", "284470004", "OTHER"),  # PAC
    ("BIGU", "11157007", "OTHER"),  # VBig
    ("TRIGU", "251180001", "OTHER"),  # VTrig
    ("SVTAC", "426761007", "OTHER"),  # SVT
    ("PSVT", "67198005", "OTHER"),  # PSVT
    ("LVOLT", "251146004", "OTHER"),  # LQRSV
    ("ABQRS", "164951009", "OTHER"),  # abQRS
]
DATABASE_HEADER = "ecg_id,patient_id,age,sex,scp_codes,strat_fold,filename_hr\n"


def _classes(target: tuple[float, ...]) -> set[str]:
    return {c for c, v in zip(CLASSES, target, strict=True) if v == 1.0}


def _ptbxl(root: Path, rows: list[str]) -> dict[str, set[str]]:
    """A PTB-XL copy (real csv layout, empty WFDB files: labels need no signal) -> ecg_id -> classes."""
    root.mkdir(parents=True)
    (root / "scp_statements.csv").write_text(SCP_STATEMENTS)
    lines = []
    for ecg_id, codes in enumerate(rows, start=1):
        stem = f"records500/00000/{ecg_id:05d}_hr"
        (root / stem).parent.mkdir(parents=True, exist_ok=True)
        for suffix in (".hea", ".dat"):
            (root / f"{stem}{suffix}").touch()
        lines.append(f'{ecg_id},{100 + ecg_id},50,0,"{codes}",1,{stem}\n')
    (root / "ptbxl_database.csv").write_text(DATABASE_HEADER + "".join(lines))
    items = list(PTBXL().index(root))
    assert all(isinstance(i, RawRecord) for i in items), items
    return {i.record_id: _classes(i.target) for i in items}


def _chapman(root: Path, dxs: list[str], options: CinCOptions | None = None) -> dict[str, set[str]]:
    """CinC headers in the challenge layout (index reads only the header and the .mat's presence)."""
    folder = root / "WFDB_ChapmanShaoxing"
    folder.mkdir(parents=True)
    for k, dx in enumerate(dxs, start=1):
        name = f"JS{k:05d}"
        signals = [f"{name}.mat 16+24 1000/mV 16 0 0 0 0 {lead}" for lead in ("I", "II")]
        header = [f"{name} 2 500 5000", *signals, "#Age: 60", "#Sex: Male", f"#Dx: {dx}"]
        (folder / f"{name}.hea").write_text("\n".join(header) + "\n")
        (folder / f"{name}.mat").write_bytes(b"\0")
    items = list(Chapman(options or CinCOptions()).index(root))
    assert all(isinstance(i, RawRecord) for i in items), items
    return {i.record_id: _classes(i.target) for i in items}


def test_same_finding_same_superclass_in_both_tables(tmp_path: Path) -> None:
    (tmp_path / "scp_statements.csv").write_text(SCP_STATEMENTS)
    ptbxl = PTBXL().code_classes(tmp_path)
    got = {(scp, snomed): (ptbxl[scp], SNOMED[snomed][1]) for scp, snomed, _ in SAME_FINDING}
    assert got == {(scp, snomed): (klass, klass) for scp, snomed, klass in SAME_FINDING}


def test_form_statement_records_match_their_cinc_equivalent(tmp_path: Path) -> None:
    rows = ["{'STD_': 100.0, 'SR': 0.0}", "{'QWAVE': 0.0, 'LPR': 0.0, 'SR': 0.0}"]
    ptbxl = _ptbxl(tmp_path / "ptbxl", rows)
    cinc = _chapman(tmp_path / "cinc", ["426783006,429622005", "426783006,164917005,164947007"])
    assert ptbxl == {"1": {"STTC"}, "2": {"MI", "CD"}}
    assert list(cinc.values()) == list(ptbxl.values())


def test_norm_only_when_nothing_abnormal(tmp_path: Path) -> None:
    cinc = _chapman(tmp_path / "cinc", ["426783006,164909002", "426783006", "426783006,426177001"])
    assert cinc == {"JS00001": {"CD"}, "JS00002": {"NORM"}, "JS00003": {"OTHER"}}  # SR + LBBB is not NORM
    ptbxl = _ptbxl(
        tmp_path / "ptbxl", ["{'NORM': 100.0, 'SR': 0.0}", "{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}"]
    )
    assert ptbxl == {"1": {"NORM"}, "2": {"OTHER"}}


def test_climb_sinus_rhythm_option_is_opt_in(tmp_path: Path) -> None:
    cinc = _chapman(tmp_path, ["426783006,164909002"], CinCOptions(sinus_rhythm="norm"))
    assert cinc == {"JS00001": {"NORM", "CD"}}


@pytest.mark.parametrize("dataset", ["ptbxl", "chapman", "georgia", "cpsc2018"])
def test_label_version_is_part_of_the_store_address(
    dataset: str, params_factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    params = params_factory({dataset: str(tmp_path / "raw")})
    snap = tmp_path / "snapshot"
    snap.mkdir()
    (snap / uris.COMPLETION_MARKER).write_text(json.dumps({"snapshot_id": "0123abcd"}))
    before = standardize.output_key(params, dataset, str(snap))
    monkeypatch.setattr(f"{catalog.get(dataset).__module__}.LABELS_VERSION", "a-newer-mapping")
    assert standardize.output_key(params, dataset, str(snap)) != before
