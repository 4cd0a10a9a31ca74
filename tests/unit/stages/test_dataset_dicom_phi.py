"""No PHI written into the sample DICOM headers reaches the standardized store (VinDr-CXR and CBIS-DDSM).

The sample writers put realistic identifiers into every file (names, MRNs, birth dates, addresses, phone
numbers, institution, physicians, station, device serial, study dates, accession numbers, a private tag).
After ingest -> validate -> standardize, none of those values may appear in the manifest (``meta`` included),
labels.json, report.json, the quarantine or the shard bytes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from climbflow.catalog.dicom import SALT_ENV
from climbflow.sampledata.dicom_images import PHI_KEYWORDS, PRIVATE_CREATOR

N = 24


def _phi_values(raw: Path) -> tuple[set[str], set[str]]:
    """(full values, name tokens) of the identifying attributes written into the raw DICOM headers."""
    values: set[str] = set()
    tokens: set[str] = set()
    files = [p for p in raw.rglob("*") if p.suffix in (".dcm", ".dicom")]
    assert files
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in PHI_KEYWORDS:
            value = str(ds.get(keyword, "")).strip()
            assert value, f"{path.name}: sample header lacks {keyword}"
            values.add(value)
            if keyword.endswith("Name") and ds[keyword].VR == "PN":
                tokens |= {t for t in re.split(r"[\^ ]", value) if len(t) >= 5}
        values.add(str(ds.private_block(0x0009, PRIVATE_CREATOR)[0x01].value))
    return values, tokens


def _store_texts(root: Path) -> dict[str, str]:
    """Every file of the store as text: parquet tables rendered cell by cell, other files decoded as-is."""
    out = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            out[path.relative_to(root).as_posix()] = frame.to_json(orient="records", default_handler=str)
        else:
            out[path.relative_to(root).as_posix()] = path.read_bytes().decode("latin-1")
    return out


@pytest.mark.parametrize("dataset", ["vindr_cxr", "cbis_ddsm"])
def test_no_phi_in_the_standardized_store(standardized_sample, tmp_path, monkeypatch, dataset):
    monkeypatch.setenv(SALT_ENV, "phi-test-salt")
    reader = standardized_sample(dataset, N)
    values, tokens = _phi_values(tmp_path / "raw" / dataset)
    texts = _store_texts(Path(reader.root))
    assert {"manifest.parquet", "labels.json", "report.json", "quarantine.parquet"} <= set(texts)
    assert any(name.startswith("shards/") for name in texts)
    assert {"PatientID", "StudyDate", "InstitutionName", "AccessionNumber"} <= set(PHI_KEYWORDS)
    for name, text in texts.items():
        binary = name.startswith("shards/")
        for value in values:
            if binary and len(value) < 8:  # short strings occur by chance in pixel bytes
                continue
            assert value not in text, f"{name} contains the header value {value!r}"
        if not binary:
            for token in tokens:
                assert token not in text, f"{name} contains the name part {token!r}"

    # what the store does say about a record: pseudonymous ids and shifted dates only
    metas = [json.loads(s) for s in reader.manifest["meta"]]
    assert all(meta["patient_pseudonym"].startswith("anon-") for meta in metas)
    raw_dates = {v for v in values if re.fullmatch(r"(19|20)\d{6}", v)}
    assert raw_dates and not {meta["study_date_shifted"] for meta in metas} & raw_dates
    assert not set(reader.manifest["patient_id"]) & values
