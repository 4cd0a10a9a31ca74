"""DICOM reading (modality LUT, VOI LUT / window, MONOCHROME1, guards), allow-list de-identification."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import stat
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEGLSLossless

from climbflow.catalog.base import RecordError
from climbflow.catalog.dicom import (
    ALLOW_LIST,
    DATE_SHIFT_DAYS,
    SALT_ENV,
    SALT_FILE_ENV,
    Deidentifier,
    DicomImageMixin,
    header,
    read_dicom,
    resolve_salt,
    to_uint8,
)
from climbflow.sampledata.dicom_images import (
    PHI_MARKER,
    PHI_MARKER_DATE,
    PHI_MARKER_TIME,
    PHI_MARKER_UID,
    phi_marker_dataset,
)
from climbflow.store.splits import split_key

SALT = b"unit-test-salt"


def _dataset(arr: np.ndarray, photometric: str = "MONOCHROME2", bits: int = 12, **attrs) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.SOPInstanceUID = "1.2.3.4.5.6.7.8.1"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "DX"
    ds.set_pixel_data(arr, photometric, bits, generate_instance_uid=False)
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def _save(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _ramp(h: int = 40, w: int = 50, top: int = 4095) -> np.ndarray:
    return np.round(np.linspace(0, top, h * w)).reshape(h, w).astype(np.uint16)


def _decode(ds: Dataset, tmp_path: Path, name: str = "x.dcm") -> tuple[np.ndarray, dict]:
    path = _save(ds, tmp_path / name)
    return to_uint8(read_dicom(path), path)


# --------------------------------------------------------------------------------------------- reading
def test_no_voi_is_min_max_scaled(tmp_path):
    stored = _ramp()
    img, info = _decode(_dataset(stored), tmp_path)
    assert img.dtype == np.uint8 and img.shape == (40, 50) and info == {"voi": "minmax"}
    expected = np.round((stored - stored.min()) / (stored.max() - stored.min()) * 255)
    assert np.array_equal(img, expected.astype(np.uint8))


def test_rescale_then_linear_window(tmp_path):
    stored = _ramp(top=2000)
    ds = _dataset(stored, RescaleSlope=2, RescaleIntercept=-1000, WindowCenter=1000, WindowWidth=1001)
    img, info = _decode(ds, tmp_path)
    assert info == {"voi": "window", "window": [1000.0, 1001.0]}
    x = stored.astype(float) * 2 - 1000  # the modality LUT is applied before the window
    frac = np.clip((x - (1000 - 0.5)) / (1001 - 1) + 0.5, 0, 1)  # PS3.3 C.11.2.1.2.1 LINEAR
    assert np.abs(img.astype(int) - np.round(frac * 255)).max() <= 1
    assert img.min() == 0 and img.max() == 255  # values outside the window are clipped
    assert (img == 0).sum() > 0.2 * img.size and (img == 255).sum() > 0.2 * img.size


def test_monochrome1_is_inverted(tmp_path):
    stored = _ramp()
    mono2, _ = _decode(_dataset(stored), tmp_path, "m2.dcm")
    mono1, _ = _decode(_dataset(stored, "MONOCHROME1"), tmp_path, "m1.dcm")
    assert np.array_equal(mono1, 255 - mono2)
    # the same picture stored the MONOCHROME1 way (inverted values) decodes to the same display
    inverted, _ = _decode(_dataset(4095 - stored, "MONOCHROME1"), tmp_path, "inv.dcm")
    assert np.array_equal(inverted, mono2)
    windowed, info = _decode(_dataset(stored, "MONOCHROME1", WindowCenter=2048, WindowWidth=4096), tmp_path)
    assert info["voi"] == "window" and windowed[0, 0] == 255 and windowed[-1, -1] == 0


def _voi_item(lut: np.ndarray, first: int = 0) -> Dataset:
    item = Dataset()
    item.add_new(0x00283002, "US", [len(lut), first, 16])
    item.add_new(0x00283006, "US", lut.tolist())
    return item


def test_voi_lut_sequence_is_applied_and_preferred_over_window(tmp_path):
    stored = _ramp(top=4095)
    lut = np.round((np.arange(4096) / 4095) ** 2 * 65535).astype(np.uint16)  # a gamma-2 display curve
    ds = _dataset(stored, VOILUTSequence=[_voi_item(lut)], WindowCenter=100, WindowWidth=10)
    img, info = _decode(ds, tmp_path)
    assert info == {"voi": "lut"}
    assert np.abs(img.astype(int) - np.round(lut[stored] / 65535 * 255)).max() <= 1
    # a gamma curve darkens the mid-tones compared with the linear (no VOI) decoding
    linear, _ = _decode(_dataset(stored), tmp_path, "lin.dcm")
    assert img[20].mean() < linear[20].mean() - 20


def test_colour_images_stay_rgb(tmp_path):
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[..., 0], rgb[..., 2] = 200, 50
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", "1.2.3.9"
    ds.set_pixel_data(rgb, "RGB", 8, generate_instance_uid=False)
    img, info = _decode(ds, tmp_path)
    assert img.shape == (30, 40, 3) and np.array_equal(img, rgb) and info == {"voi": "none"}


def test_bad_files_raise_named_rules(tmp_path):
    good = _save(_dataset(_ramp(100, 100)), tmp_path / "good.dcm")
    full = good.read_bytes()

    def rule(data: bytes | None, name: str, **kw) -> RecordError:
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        with pytest.raises(RecordError) as err:
            to_uint8(read_dicom(path, **kw), path)
        assert str(path) in err.value.message
        return err.value

    assert rule(None, "absent.dcm").rule == "missing_file"
    assert rule(b"", "empty.dcm").rule == "empty_file"
    assert rule(b"image_id,rad_ID\nabc,R1\n", "text.dcm").rule == "corrupt_dicom"
    assert rule(full[: len(full) - 5000], "truncated.dcm").rule == "corrupt_dicom"
    assert rule(full[:200], "header_only.dcm").rule in {"corrupt_dicom", "no_pixel_data"}
    err = rule(full, "bomb.dcm", max_pixels=99 * 100)
    assert err.rule == "image_too_large" and "100x100" in err.message

    ds = _dataset(_ramp())
    del ds.PixelData
    assert rule(_bytes(ds), "nopixels.dcm").rule == "no_pixel_data"

    frames = _dataset(np.stack([_ramp(), _ramp()]))
    assert rule(_bytes(frames), "frames.dcm").rule == "multi_frame"

    jls = pydicom.dcmread(good)
    jls.file_meta.TransferSyntaxUID = JPEGLSLossless
    jls.PixelData = encapsulate([b"\xff\xd8" + b"\x00" * 64])
    jls["PixelData"].VR = "OB"
    err = rule(_bytes(jls), "jpegls.dcm")
    assert err.rule == "unsupported_compression" and JPEGLSLossless in err.message

    odd = _dataset(_ramp())
    odd.PhotometricInterpretation = "HSV"
    assert rule(_bytes(odd), "hsv.dcm").rule == "unsupported_photometric"


def _bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# ------------------------------------------------------------------------------------- de-identification
PHI = {
    "PatientName": "HOLLOWAY^MARGARET^Q",
    "PatientID": "MRN7734521",
    "PatientBirthDate": "19470312",
    "PatientBirthTime": "083000",
    "PatientSex": "F",
    "PatientAge": "071Y",
    "PatientAddress": "12 Elm Street, Springfield",
    "PatientTelephoneNumbers": "555-0199",
    "OtherPatientIDs": "INS-99812311",
    "PatientMotherBirthName": "FAIRCHILD^ANNE",
    "EthnicGroup": "Martian",
    "Occupation": "Beekeeper",
    "AdditionalPatientHistory": "prior lumpectomy at Riverside",
    "PatientComments": "prefers morning visits",
    "InstitutionName": "Riverside Breast Imaging Center",
    "InstitutionAddress": "400 Harbor Parkway, Boston",
    "InstitutionalDepartmentName": "Radiology West Wing",
    "ReferringPhysicianName": "CALLOWAY^ROBERT^DR",
    "PerformingPhysicianName": "THORNTON^JAMES",
    "NameOfPhysiciansReadingStudy": "BRADSHAW^ELLEN",
    "OperatorsName": "TECH^LINH",
    "PhysiciansOfRecord": "ASHWORTH^PAUL",
    "StationName": "RBIC-MAMMO-1",
    "DeviceSerialNumber": "SN-LUM-2209931",
    "SoftwareVersions": "AcmeView 4.2 site build 7781",
    "ProtocolName": "Screening bilateral Riverside",
    "StudyDescription": "Annual screening for HOLLOWAY",
    "SeriesDescription": "L CC Riverside",
    "ImageComments": "patient anxious, call 555-0199",
    "StudyDate": "20190611",
    "SeriesDate": "20190611",
    "AcquisitionDate": "20190612",
    "ContentDate": "20190612",
    "AcquisitionDateTime": "20190612101530.000000",
    "InstanceCreationDate": "20190613",
    "StudyTime": "101500",
    "SeriesTime": "101510",
    "AcquisitionTime": "101530",
    "ContentTime": "101540",
    "AccessionNumber": "ACC2019554101",
    "StudyID": "ST448812",
    "StudyInstanceUID": "1.2.826.0.1.3680043.2.1125.555.1",
    "SeriesInstanceUID": "1.2.826.0.1.3680043.2.1125.555.2",
    "FrameOfReferenceUID": "1.2.826.0.1.3680043.2.1125.555.3",
    "ViewPosition": "CC",
    "ImageLaterality": "L",
    "PixelSpacing": [0.1, 0.1],
    "BurnedInAnnotation": "YES",
}


def _phi_dataset(patient_id: str = PHI["PatientID"], study_date: str = PHI["StudyDate"]) -> Dataset:
    ds = _dataset(_ramp(), **{k: v for k, v in PHI.items() if k not in ("PatientID", "StudyDate")})
    ds.PatientID, ds.StudyDate = patient_id, study_date
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.2.1125.555.4"
    request = Dataset()  # a nested sequence with a person name, a date and an identifier
    request.ScheduledPerformingPhysicianName = "WHITAKER^JOHN"
    request.RequestedProcedureID = "RP-55120"
    request.ScheduledProcedureStepStartDate = "20190601"
    ds.RequestAttributesSequence = [request]
    source = Dataset()  # not listed: cleaned recursively (PN removed, UID replaced, class UID kept)
    source.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    source.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.2.1125.555.9"
    source.VerifyingObserverName = "PEMBERTON^CARL"
    ds.SourceImageSequence = [source]
    block = ds.private_block(0x0009, "SAMPLE PACS 1.0", create=True)
    block.add_new(0x01, "LO", "HOLLOWAY^MARGARET^Q MRN7734521")
    ds.add_new(0x60000010, "US", 4)  # overlay rows
    ds.add_new(0x60004000, "LT", "annotated by CALLOWAY")  # overlay comments
    return ds


def _phi_strings() -> list[str]:
    out = []
    for key, value in PHI.items():
        if key in ("ViewPosition", "ImageLaterality", "PixelSpacing", "BurnedInAnnotation", "PatientSex"):
            continue
        out.append(str(value))
    return out + ["WHITAKER^JOHN", "RP-55120", "20190601", "PEMBERTON^CARL", "1.2.826.0.1.3680043.2.1125.555"]


FREE_TEXT_VRS = {"PN", "LO", "SH", "LT", "ST", "UT", "UC", "AE", "UN", "DA", "DT", "TM", "AS"}


def test_allow_list_keeps_coded_values_and_numbers_only():
    """Oracle: pydicom's data dictionary. Nothing kept as is may hold a name, free text, date or time."""
    assert [k for k in ALLOW_LIST if tag_for_keyword(k) is None] == []
    assert set(ALLOW_LIST.values()) == {"K", "D", "U"}
    kept = {k: dictionary_VR(tag_for_keyword(k)) for k, a in ALLOW_LIST.items() if a == "K"}
    assert {k: vr for k, vr in kept.items() if set(vr.split(" or ")) & FREE_TEXT_VRS} == {}
    assert {k for k, a in ALLOW_LIST.items() if a == "D"} == {"PatientName", "PatientID", "StudyDate"}


def test_no_marker_survives_deidentification(tmp_path):
    """~740 unlisted name/text attributes, nested sequences, private tags, an overlay: all carry a marker."""
    path = _save(phi_marker_dataset(), tmp_path / "marker.dcm")
    raw = path.read_bytes()
    assert raw.count(PHI_MARKER.encode()) > 700  # the fixture is not vacuous
    ds = pydicom.dcmread(path)
    for keyword in ("RequestedProcedureComments", "ReasonForStudy", "PatientID", "ContentCreatorName"):
        assert ds[keyword].value == PHI_MARKER, keyword
    out = Deidentifier(SALT).deidentify(ds, "rec-1")
    data = _bytes(out.dataset) + json.dumps(header(out, path)).encode()
    for value in (PHI_MARKER, PHI_MARKER_DATE, PHI_MARKER_TIME, PHI_MARKER_UID):
        assert value.encode() not in data, value
    deid = out.dataset
    assert deid.VOILUTSequence[0].LUTData == [0, 100, 200, 300]  # a kept sequence keeps its LUT only
    assert "LUTExplanation" not in deid.VOILUTSequence[0]
    assert not any(e.tag.is_private or e.tag.group == 0x6000 for e in deid.iterall())
    assert out.private_tags_removed == 4 and "RequestAttributesSequence" in out.removed
    assert "ViewPosition" not in deid and "ViewPosition" in out.removed  # kept tag, but a free-text VR
    assert pydicom.dcmread(io.BytesIO(_bytes(deid))).PatientID == out.patient  # still valid DICOM


def test_deidentified_header_holds_the_allow_list_only():
    raw = _phi_dataset()
    out = Deidentifier(SALT).deidentify(raw, "rec-1")
    deid = out.dataset
    allowed = set(ALLOW_LIST) | {"PatientIdentityRemoved", "DeidentificationMethod"}
    assert {e.keyword for e in deid.iterall()} <= allowed
    assert {e.keyword for e in deid.file_meta} <= allowed
    assert deid.PatientID == deid.PatientName == out.patient and out.patient.startswith("anon-")
    assert (deid.ViewPosition, deid.ImageLaterality, deid.Modality) == ("CC", "L", "DX")
    assert deid.SOPClassUID == raw.SOPClassUID  # standard class UID kept
    assert deid.file_meta.MediaStorageSOPInstanceUID == deid.SOPInstanceUID != raw.SOPInstanceUID
    assert deid.StudyInstanceUID.startswith("2.25.")
    assert {"InstitutionName", "SourceImageSequence", "RequestAttributesSequence"} <= out.removed
    assert {"PatientID", "StudyDate", "SOPInstanceUID"} <= out.replaced
    assert out.private_tags_removed == 2
    assert deid.PatientIdentityRemoved == "YES" and deid.DeidentificationMethod
    # the input is not modified
    assert raw.PatientID == PHI["PatientID"] and "InstitutionName" in raw


def test_no_phi_value_survives_in_the_deidentified_file():
    deid = Deidentifier(SALT).deidentify(_phi_dataset(), "rec-1").dataset
    data = _bytes(deid)
    for value in _phi_strings():
        assert value.encode() not in data, value
    again = pydicom.dcmread(io.BytesIO(data))  # still a valid DICOM file (header only)
    assert again.PatientIdentityRemoved == "YES" and "PixelData" not in again


def test_dates_shift_consistently_per_patient():
    deid = Deidentifier(SALT)
    first = deid.deidentify(_phi_dataset(study_date="20190611"), "a")
    later = deid.deidentify(_phi_dataset(study_date="20200105"), "b")
    other = deid.deidentify(_phi_dataset(patient_id="MRN0000042", study_date="20190611"), "c")

    def day(value: str) -> dt.date:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))

    assert first.date_offset_days == later.date_offset_days != other.date_offset_days
    assert -DATE_SHIFT_DAYS[1] <= first.date_offset_days <= -DATE_SHIFT_DAYS[0]
    d1, d2 = first.dataset, later.dataset
    assert day(d1.StudyDate) - day("20190611") == dt.timedelta(days=first.date_offset_days)
    assert day(d2.StudyDate) - day(d1.StudyDate) == day("20200105") - day("20190611")  # intervals kept
    assert not {"AcquisitionDate", "AcquisitionDateTime", "StudyTime", "PatientBirthDate"} & set(d1.dir())
    assert first.patient == later.patient != other.patient
    bad = _phi_dataset()
    with pytest.warns(UserWarning, match="Invalid value for VR DA"):
        bad.StudyDate = "2019XX12"
    assert "StudyDate" not in deid.deidentify(bad, "d").dataset


def test_pseudonyms_are_keyed_and_stable():
    raw = _phi_dataset()
    a, b = Deidentifier(SALT), Deidentifier(SALT)
    assert a.deidentify(raw, "x").patient == b.deidentify(raw, "y").patient == a.patient_pseudonym(raw, "z")
    assert a.uid("1.2.3") == b.uid("1.2.3") and a.uid("1.2.3") != a.uid("1.2.4")
    assert Deidentifier(b"another-salt").patient_pseudonym(raw, "z") != a.patient_pseudonym(raw, "z")
    assert PHI["PatientID"] not in a.patient_pseudonym(raw, "z")
    anonymous = _dataset(_ramp())  # no patient ID or name: the record key identifies the patient
    assert a.patient_pseudonym(anonymous, "img-1") == a.deidentify(anonymous, "img-1").patient
    assert a.patient_pseudonym(anonymous, "img-1") != a.patient_pseudonym(anonymous, "img-2")


def test_header_summary_is_phi_free_and_flags_burned_in():
    out = Deidentifier(SALT).deidentify(_phi_dataset(), "rec-1")
    meta = header(out)
    assert set(meta) == {
        "modality",
        "view_position",
        "laterality",
        "photometric",
        "rows",
        "cols",
        "bits_stored",
        "pixel_spacing_mm",
        "study_date_shifted",
        "patient_pseudonym",
        "burned_in_annotation",
        "deid",
    }
    assert (meta["modality"], meta["view_position"], meta["laterality"]) == ("DX", "CC", "L")
    assert (meta["rows"], meta["cols"], meta["pixel_spacing_mm"]) == (40, 50, [0.1, 0.1])
    assert meta["burned_in_annotation"] is True and meta["patient_pseudonym"] == out.patient
    assert meta["study_date_shifted"] not in (None, PHI["StudyDate"])
    assert "InstitutionName" in meta["deid"]["removed"] and meta["deid"]["private_tags_removed"] == 2
    text = json.dumps(meta)
    for value in _phi_strings():
        assert value not in text, value


def test_mixin_reads_deidentified_and_can_reject_burned_in(tmp_path, monkeypatch):
    monkeypatch.setenv(SALT_ENV, "mixin-salt")
    path = _save(_phi_dataset(), tmp_path / "phi.dcm")
    pixels, meta = DicomImageMixin().read_deidentified(path, "rec")
    assert pixels.shape == (40, 50) and meta["voi"] == "minmax" and meta["burned_in_annotation"] is True
    pseudonym, key = DicomImageMixin().header_identity(path, "rec")
    assert meta["patient_pseudonym"] == pseudonym
    assert pseudonym == Deidentifier(b"mixin-salt").patient_pseudonym(_phi_dataset(), "rec")
    assert key == split_key(f"PatientID:{PHI['PatientID']}") and PHI["PatientID"] not in key
    with pytest.raises(RecordError) as err:
        DicomImageMixin().read_deidentified(path, "rec", reject_burned_in=True)
    assert err.value.rule == "burned_in_annotation"
    (tmp_path / "junk.dcm").write_text("not dicom")
    assert DicomImageMixin().header_identity(tmp_path / "junk.dcm", "rec-9") == (
        Deidentifier(b"mixin-salt").pseudonym("record:rec-9"),
        split_key("record:rec-9"),
    )


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("PixelSpacing", [0, 0.1]),
        ("PixelSpacing", [0.1, -0.1]),
        ("ImagerPixelSpacing", [0.1]),
        ("PixelSpacing", ["nan", 0.1]),
    ],
)
def test_bad_pixel_spacing_is_refused(tmp_path, monkeypatch, keyword, value):
    monkeypatch.setenv(SALT_ENV, "mixin-salt")
    ds = _dataset(_ramp())
    with pytest.warns(UserWarning) if "nan" in value else contextlib.nullcontext():
        setattr(ds, keyword, value)
    path = _save(ds, tmp_path / "spacing.dcm")
    with pytest.raises(RecordError) as err:
        DicomImageMixin().read_deidentified(path, "rec")
    assert err.value.rule == "bad_pixel_spacing" and "spacing.dcm" in err.value.message
    assert keyword in err.value.message


def test_salt_sources(tmp_path, monkeypatch):
    monkeypatch.delenv(SALT_ENV, raising=False)
    monkeypatch.delenv(SALT_FILE_ENV, raising=False)
    # per-workspace default: created once (secret, 0600), then reused
    salt, where = resolve_salt(tmp_path / "ws")
    assert where == str(tmp_path / "ws" / ".deid_salt") and len(salt) == 64
    assert stat.S_IMODE(os.stat(where).st_mode) == 0o600
    assert resolve_salt(tmp_path / "ws")[0] == salt
    assert resolve_salt(tmp_path / "other")[0] != salt  # another workspace, other pseudonyms
    spec = DicomImageMixin()
    spec.bind_workspace(tmp_path / "ws")
    assert spec.deidentifier.salt == salt
    # an explicit salt file, then the env value itself, take precedence
    (tmp_path / "salt.txt").write_text("from-file\n")
    monkeypatch.setenv(SALT_FILE_ENV, str(tmp_path / "salt.txt"))
    assert resolve_salt(tmp_path / "ws") == (b"from-file", str(tmp_path / "salt.txt"))
    monkeypatch.setenv(SALT_ENV, "from-env")
    assert resolve_salt(tmp_path / "ws")[0] == b"from-env"
    (tmp_path / "salt.txt").write_text("")
    monkeypatch.delenv(SALT_ENV)
    with pytest.raises(ValueError, match="empty"):
        resolve_salt()
