"""Re-check the DICOM de-identification on every DICOM file climbflow's fixtures produce; report tags removed.

Files checked: the VinDr-CXR and CBIS-DDSM sample writers' output, every DICOM case of the bad-input corpus
(:mod:`climbflow.hardening.badinput`) and the PHI marker file
(:func:`~climbflow.sampledata.dicom_images.phi_marker_dataset`: a marker string in ~750 person-name and
free-text attributes, nested sequences, private tags and an overlay). For each file the raw header's
candidate PHI is collected by value representation, independently of the de-identifier's allow-list: every
person-name, text, date and time value, every UID not rooted at the DICOM standard, and every private
element's value. The file is de-identified with :class:`~climbflow.catalog.dicom.Deidentifier`, and the
de-identified header (as written to bytes) plus the manifest ``meta``
(:func:`~climbflow.catalog.dicom.header`) are searched for each raw value.
``python -m climbflow.hardening.phi_report`` (``climb doctor phi``) prints the counts per keyword and exits 1
if any value survives.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from climbflow.catalog.base import RecordError
from climbflow.catalog.dicom import STANDARD_UID_ROOT, Deidentifier, header

SALT = b"climbflow-phi-report-salt"
MIN_VALUE_LEN = 4  # shorter values ("F", "Y", "01") also occur by chance in any output
_TEXT_VRS = ("PN", "LO", "SH", "LT", "ST", "UT", "UC", "AE", "DA", "DT", "TM")


@dataclass
class FileResult:
    source: str  # which fixture produced the file
    path: str
    status: str  # "checked" | "unreadable"
    removed: set[str] = field(default_factory=set)
    replaced: set[str] = field(default_factory=set)
    private_tags_removed: int = 0
    survivors: list[str] = field(
        default_factory=list
    )  # "keyword" of raw values found after de-identification


@dataclass
class Report:
    files: list[FileResult]

    @property
    def checked(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "checked"]

    @property
    def survivors(self) -> list[tuple[str, str]]:
        return [(f.path, k) for f in self.files for k in f.survivors]

    def removed_counts(self) -> Counter[str]:
        return Counter(k for f in self.checked for k in f.removed)

    def replaced_counts(self) -> Counter[str]:
        return Counter(k for f in self.checked for k in f.replaced)

    def render(self) -> str:
        lines = [
            f"DICOM de-identification check: {len(self.checked)} files checked, "
            f"{len(self.files) - len(self.checked)} unreadable (refused at decode), "
            f"{len(self.survivors)} PHI values surviving",
            f"private tags removed: {sum(f.private_tags_removed for f in self.checked)}",
            "",
            "files by source:",
        ]
        for source, n in sorted(Counter(f.source for f in self.files).items()):
            lines.append(f"  {source:<28} {n:>4}")
        lines += ["", f"{'removed / emptied (keyword)':<44} {'files':>5}"]
        lines += [f"  {k:<42} {n:>5}" for k, n in sorted(self.removed_counts().items())]
        lines += ["", f"{'replaced: pseudonym, shifted date, new UID':<44} {'files':>5}"]
        lines += [f"  {k:<42} {n:>5}" for k, n in sorted(self.replaced_counts().items())]
        if self.survivors:
            lines += ["", "SURVIVING PHI:"] + [f"  {p}: {k}" for p, k in self.survivors]
        return "\n".join(lines)


def _walk(ds: Dataset) -> Iterator[Any]:
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or []:
                yield from _walk(item)
        else:
            yield elem


def _strings(elem: Any) -> list[str]:
    value = elem.value
    if isinstance(value, bytes):
        return [value.decode("latin-1").strip("\0 ")]
    values = list(value) if elem.VM > 1 else [value]
    return [str(v).strip() for v in values]


def identifying_values(ds: Dataset) -> dict[str, set[str]]:
    """keyword -> raw values that must not survive, chosen by VR (not by any de-identification list):
    names, texts, dates, times, non-standard UIDs, and private elements of any VR (file meta included)."""
    out: dict[str, set[str]] = {}
    meta = getattr(ds, "file_meta", None)
    for elem in [*_walk(ds), *(meta or [])]:
        if not (elem.tag.is_private or elem.VR in (*_TEXT_VRS, "UI")):
            continue
        for text in _strings(elem):
            if len(text) < MIN_VALUE_LEN or (elem.VR == "UI" and text.startswith(STANDARD_UID_ROOT)):
                continue
            key = elem.keyword or str(elem.tag)
            out.setdefault(key, set()).add(text)
            if elem.VR == "PN":  # name components on their own (family name, given name)
                out[key].update(p for p in text.replace("=", "^").split("^") if len(p) >= MIN_VALUE_LEN)
    return out


def output_text(ds: Dataset) -> str:
    """A dataset as the bytes a DICOM writer gives (file meta included, nothing added), as latin-1 text."""
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=False)
    return buf.getvalue().decode("latin-1")


def check_file(path: Path, source: str, deid: Deidentifier) -> FileResult:
    """De-identify one file's header and look for every raw identifying value in the result."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - unreadable files never reach the manifest (RecordError at decode)
        return FileResult(source, str(path), "unreadable")
    out = deid.deidentify(ds, path.stem)
    after = output_text(out.dataset)
    try:
        after += "\n" + json.dumps(header(out, path), default=str)
    except RecordError:  # refused at decode (e.g. bad_pixel_spacing): no meta is written
        pass
    survivors = sorted(k for k, values in identifying_values(ds).items() if any(v in after for v in values))
    return FileResult(
        source, str(path), "checked", set(out.removed), set(out.replaced), out.private_tags_removed, survivors
    )


def collect(workdir: Path, n_records: int = 4) -> Iterator[tuple[str, Path]]:
    """(source, path) of every DICOM file to check, generated under ``workdir``."""
    from climbflow.hardening import badinput
    from climbflow.sampledata import write
    from climbflow.sampledata.dicom_images import phi_marker_dataset

    for dataset in ("vindr_cxr", "cbis_ddsm"):
        root = write(dataset, workdir / "sample" / dataset, n_records, seed=0)
        for p in sorted([*root.rglob("*.dicom"), *root.rglob("*.dcm")]):
            yield f"sample:{dataset}", p
    corpus = badinput.Corpus(workdir / "bad")
    for case in badinput.cases():
        if case.reader == "dicom" or case.dataset in ("vindr_cxr", "cbis_ddsm"):
            root = corpus.build(case)
            for p in sorted([*root.parent.rglob("*.dicom"), *root.parent.rglob("*.dcm")]):
                yield f"bad:{case.id}", p
    marker = workdir / "marker" / "phi_marker.dcm"
    marker.parent.mkdir(parents=True, exist_ok=True)
    phi_marker_dataset().save_as(marker, enforce_file_format=True)
    yield "marker", marker


def run(workdir: Path) -> Report:
    deid = Deidentifier(SALT)
    return Report([check_file(p, source, deid) for source, p in collect(Path(workdir))])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m climbflow.hardening.phi_report", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the per-keyword counts as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="climb-phi-") as tmp:
        report = run(Path(tmp))
    if args.json:
        print(
            json.dumps(
                {
                    "files": len(report.files),
                    "checked": len(report.checked),
                    "survivors": report.survivors,
                    "removed": dict(sorted(report.removed_counts().items())),
                    "replaced": dict(sorted(report.replaced_counts().items())),
                },
                indent=1,
            )
        )
    else:
        print(report.render())
    return 1 if report.survivors else 0


if __name__ == "__main__":
    sys.exit(main())
