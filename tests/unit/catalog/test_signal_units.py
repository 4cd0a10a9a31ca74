"""Signal units: WFDB header units and EDF physical dimensions are converted to mV (ECG) / µV (EEG).

Oracle: the same samples written once in the dataset's documented unit and once in another unit with the
matching gain must decode to the same physical signal; a non-voltage unit is refused with rule ``bad_unit``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from pyedflib import highlevel

from climbflow import sampledata
from climbflow.catalog import units
from climbflow.catalog.base import RecordError, Rejected
from climbflow.catalog.cinc2021 import Chapman
from climbflow.catalog.ptbxl import PTBXL
from climbflow.catalog.tuab import TUAB
from climbflow.catalog.tuev import TUEV
from climbflow.catalog.units import canonical, wfdb_header_units

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")  # pandas 3 vs wfdb internals


def _records(spec, root: Path) -> list:
    return [r for r in spec.index(root) if not isinstance(r, Rejected)]


def _set_gain_unit(hea: Path, old: str, new: str, encoding: str = "utf-8") -> None:
    """Replace the gain/unit field of every signal line (``1000.0(0)/mV`` -> ``new``)."""
    text = hea.read_text(encoding="ascii")
    assert text.count(old) == 12, text
    hea.write_bytes(text.replace(old, new).encode(encoding))


@pytest.fixture(scope="module")
def ptbxl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sampledata.write("ptbxl", tmp_path_factory.mktemp("ptbxl"), 2)


@pytest.fixture(scope="module")
def chapman(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sampledata.write("chapman", tmp_path_factory.mktemp("chapman"), 2)


def test_canonical_spellings() -> None:
    assert {canonical(u) for u in ("uV", "UV", "µV", "μV", "microvolt", " uv ")} == {"uV"}
    assert (canonical("mV"), canonical("MV"), canonical("V"), canonical("nV")) == ("mV", "mV", "V", "nV")
    assert canonical("mmHg") is None and canonical("degC") is None


@pytest.mark.parametrize(
    ("field", "encoding", "source_unit", "assumed"),
    [
        ("1.0(0)/uV", "utf-8", "uV", False),
        ("1.0(0)/μV", "utf-8", "μV", False),  # Greek mu: wfdb's ASCII read would see "V"
        ("1.0(0)/µV", "latin-1", "µV", False),  # micro sign, Latin-1 byte 0xB5
        ("1000000.0(0)/V", "utf-8", "V", False),  # gain = ADC units per volt
        ("1000.0(0)", "utf-8", "mV", True),  # no unit: WFDB's default, mV, reported as assumed
    ],
)
def test_ptbxl_header_units_converted_to_mv(
    ptbxl: Path, tmp_path: Path, field: str, encoding: str, source_unit: str, assumed: bool
) -> None:
    root = Path(shutil.copytree(ptbxl, tmp_path / "copy"))
    record = _records(PTBXL(), root)[0]
    reference, _ = PTBXL().decode(root, record)
    _set_gain_unit(root / record.files[0], "1000.0(0)/mV", field, encoding)
    signal, props = PTBXL().decode(root, record)
    np.testing.assert_allclose(signal, reference, atol=1e-4)
    assert props["meta"] == {"source_unit": source_unit, "unit_assumed": assumed}
    assert np.abs(signal).max() < 10  # mV: a 12-lead ECG stays within a few mV


def test_ptbxl_non_voltage_unit_is_bad_unit(ptbxl: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(ptbxl, tmp_path / "copy"))
    record = _records(PTBXL(), root)[0]
    _set_gain_unit(root / record.files[0], "1000.0(0)/mV", "1000.0(0)/mmHg")
    with pytest.raises(RecordError) as err:
        PTBXL().decode(root, record)
    assert err.value.rule == "bad_unit"
    message = err.value.message
    assert record.files[0] in message and "'mmHg'" in message and "'I'" in message


def test_cinc_uv_header_converted_to_mv(chapman: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(chapman, tmp_path / "copy"))
    record = _records(Chapman(), root)[0]
    reference, _ = Chapman().decode(root, record)
    _set_gain_unit(root / record.files[0], " 1000/mV ", " 1/uV ")
    signal, props = Chapman().decode(root, record)
    np.testing.assert_allclose(signal, reference, atol=1e-4)
    assert props["meta"]["source_unit"] == "uV" and props["meta"]["unit_assumed"] is False


def test_wfdb_header_units_reads_raw_bytes(tmp_path: Path) -> None:
    hea = tmp_path / "r.hea"
    text = "r 2 500 10\n# comment\nr.dat 16 200/μV 16 0 0 0 0 I\nr.dat 16 200 16 0 0 0 0 II\n"
    hea.write_bytes(text.encode())
    assert wfdb_header_units(hea, 2) == ["μV", ""]


# --- EDF ---------------------------------------------------------------------------------------------------


def _tuab_edf(root: Path) -> Path:
    return sorted((root / "edf").rglob("*.edf"))[0]


def _rewrite_dimension(path: Path, dimension: str, scale: float) -> None:
    """Rewrite an EDF with every signal's physical dimension set to ``dimension`` (values times ``scale``)."""
    signals, headers, header = highlevel.read_edf(str(path))
    for h in headers:
        h["dimension"] = dimension
        h["physical_min"], h["physical_max"] = h["physical_min"] * scale, h["physical_max"] * scale
    highlevel.write_edf(str(path), [s * scale for s in signals], headers, header)


@pytest.fixture(scope="module")
def tuab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sampledata.write("tuab", tmp_path_factory.mktemp("tuab"), 1)


@pytest.mark.parametrize(("dimension", "scale", "assumed"), [("mV", 1e-3, False), ("", 1.0, True)])
def test_edf_dimension_converted_to_uv(
    tuab: Path, tmp_path: Path, dimension: str, scale: float, assumed: bool
) -> None:
    root = Path(shutil.copytree(tuab, tmp_path / "copy"))
    record = _records(TUAB(), root)[0]
    reference, _ = TUAB().decode(root, record)
    _rewrite_dimension(_tuab_edf(root), dimension, scale)
    signal, props = TUAB().decode(root, record)
    np.testing.assert_allclose(signal, reference, atol=0.5)  # 16-bit quantization over +-5 mV
    assert props["meta"]["source_unit"] == (dimension or "uV")
    assert props["meta"]["unit_assumed"] is assumed


def test_edf_non_voltage_dimension_is_bad_unit(tuab: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(tuab, tmp_path / "copy"))
    record = _records(TUAB(), root)[0]
    _rewrite_dimension(_tuab_edf(root), "degC", 1.0)
    with pytest.raises(RecordError) as err:
        TUAB().decode(root, record)
    assert err.value.rule == "bad_unit" and "'degC'" in err.value.message


@pytest.mark.parametrize("spec", [PTBXL, Chapman, TUAB, TUEV])
def test_signal_version_is_part_of_the_cache_token(monkeypatch: pytest.MonkeyPatch, spec) -> None:
    """Stores decoded by an older reader (1000x units, dropped channels) are not reused."""
    before = spec().cache_token()
    monkeypatch.setattr(units, "SIGNAL_VERSION", "signal-next")
    assert spec().cache_token() != before
