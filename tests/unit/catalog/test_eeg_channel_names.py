"""EEG channel names in other EDF spellings map to the 10-20 montage, or are refused with the names listed.

Oracle: the 10-20 system itself (T7 = T3, T8 = T4, P7 = T5, P8 = T6; FC5 has no 10-20 name) and a signal per
electrode that says which electrode it is (its offset), so a channel read under the wrong name is caught.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from pyedflib import highlevel

from climbflow import modalities
from climbflow.catalog.base import RecordError, Rejected
from climbflow.catalog.tuab import TUAB
from climbflow.catalog.tuh_edf import electrode_name
from climbflow.config import StandardizeConfig

FS = 250
MONTAGE = StandardizeConfig().eeg.channels  # the 19 TUH 10-20 names
# PhysioNet EEG Motor Movement/Imagery spellings (label padded with dots, 10-10 names), plus a 10-10-only one
PHYSIONET = [
    "Fp1.", "Fp2.", "F7..", "F3..", "Fz..", "F4..", "F8..", "T7..", "C3..", "Cz..", "C4..", "T8..", "P7..",
    "P3..", "Pz..", "P4..", "P8..", "O1..", "O2..", "Fc5.",
]  # fmt: skip
AS_1020 = [*MONTAGE, "FC5"]


def write(root: Path, labels: list[str], seconds: int = 20) -> Path:
    """A TUAB-layout recording whose signal ``k`` is the constant-offset sine ``10 * k + sin``."""
    t = np.arange(seconds * FS) / FS
    signals = [10.0 * k + 20 * np.sin(2 * np.pi * 7 * t) for k in range(len(labels))]
    headers = highlevel.make_signal_headers(
        labels, dimension="uV", sample_frequency=FS, physical_min=-500, physical_max=500
    )
    header = {
        "patientname": "aaaaaaaq",
        "sex": "M",
        "patient_additional": "Age:40",
        "startdate": datetime(2010, 1, 1),
    }
    path = root / "edf/train/normal/01_tcp_ar/aaaaaaaq_s001_t000.edf"
    path.parent.mkdir(parents=True)
    highlevel.write_edf(str(path), signals, headers, header, file_type=pyedflib.FILETYPE_EDF)
    return root


def _decode(root: Path):
    record = next(r for r in TUAB().index(root) if not isinstance(r, Rejected))
    return TUAB().decode(root, record)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("EEG FP1-REF", ("FP1", "REF")),
        ("EEG Fp1-LE", ("FP1", "LE")),
        ("eeg t7-ref", ("T3", "REF")),
        ("Cz..", ("CZ", "")),
        ("Fc5.", ("FC5", "")),
        ("P8", ("T6", "")),
        ("PHOTIC-REF", None),
        ("EEG EKG1-REF", None),
        ("EEG FP1-F7", None),  # bipolar: not a referential electrode
        ("IBI", None),
    ],
)
def test_electrode_name(label: str, expected: tuple[str, str] | None) -> None:
    assert electrode_name(label) == expected


@pytest.mark.parametrize(
    "labels",
    [
        PHYSIONET,
        [f"EEG {n.rstrip('.').upper()}-LE" for n in PHYSIONET],
        [f"eeg {n.rstrip('.').lower()}-ref" for n in PHYSIONET],
    ],
    ids=["physionet", "upper-le", "lower-ref"],
)
def test_other_spellings_map_to_1020(tmp_path: Path, labels: list[str]) -> None:
    raw, props = _decode(write(tmp_path, labels))
    assert props["channel_names"] == AS_1020
    offsets = raw.mean(axis=1)  # the sine averages out over whole periods: offset 10 * k remains
    np.testing.assert_allclose(offsets, 10.0 * np.arange(len(labels)), atol=1.0)
    out = modalities.standardize("eeg", raw, props, StandardizeConfig())
    assert out.shape[0] == len(MONTAGE)


def test_same_electrode_twice_is_ambiguous(tmp_path: Path) -> None:
    labels = [f"EEG {n}-REF" for n in MONTAGE] + ["EEG T7-REF"]
    with pytest.raises(RecordError) as err:
        _decode(write(tmp_path, labels))
    assert err.value.rule == "ambiguous_channel"
    assert "'EEG T3-REF'" in err.value.message and "'EEG T7-REF'" in err.value.message


def test_missing_1020_channel_refused_with_names(tmp_path: Path) -> None:
    labels = [n for n in PHYSIONET if n != "O2.."]
    raw, props = _decode(write(tmp_path, labels))
    with pytest.raises(RecordError) as err:
        modalities.standardize("eeg", raw, props, StandardizeConfig())
    assert err.value.rule == "missing_channel"
    assert "['O2']" in err.value.message and "'FC5'" in err.value.message
