"""Re-check the DICOM de-identification on every DICOM file climbflow's fixtures produce; report tags removed.

Files checked: the VinDr-CXR and CBIS-DDSM sample writers' output, every DICOM case of the bad-input corpus
(:mod:`climbflow.hardening.badinput`), and, when the test suite is importable (run from the repository root),
the PHI fixtures of ``tests/unit/catalog/test_dicom.py`` and ``test_catalog_vindr_cxr.py``. For each file the
raw header's identifying values (person names, PS3.15 profile attributes, dates, non-standard UIDs) are
collected, the file is de-identified with :class:`~climbflow.catalog.dicom.Deidentifier`, and the
de-identified header plus the manifest ``meta`` (:func:`~climbflow.catalog.dicom.header`) are searched for
each raw value. ``python -m climbflow.hardening.phi_report`` prints the counts per keyword and exits 1 if any
value survives.
"""

from __future__ import annotations

import argparse
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

from climbflow.catalog.dicom import BASIC_PROFILE, STANDARD_UID_ROOT, Deidentifier, header

SALT = b"climbflow-phi-report-salt"
MIN_VALUE_LEN = 4  # shorter values ("F", "Y", "01") also occur in non-identifying attributes
_PHI_VRS = ("PN", "DA", "DT", "TM", "LO", "SH", "ST", "LT", "UT", "AE", "UI", "CS", "AS", "DS", "IS")


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


def identifying_values(ds: Dataset) -> dict[str, set[str]]:
    """keyword -> raw string values the de-identification must not let through."""
    out: dict[str, set[str]] = {}
    for elem in _walk(ds):
        action = BASIC_PROFILE.get(elem.keyword)
        is_uid = elem.VR == "UI" and action is not None
        if action is None and elem.VR not in ("PN", "DA", "DT"):
            continue
        values = list(elem.value) if elem.VM > 1 else [elem.value]
        for value in values:
            text = str(value).strip()
            if len(text) < MIN_VALUE_LEN or (is_uid and text.startswith(STANDARD_UID_ROOT)):
                continue
            out.setdefault(elem.keyword or str(elem.tag), set()).add(text)
            if elem.VR == "PN":  # name components on their own (family name, given name)
                out[elem.keyword or str(elem.tag)].update(
                    p for p in text.replace("=", "^").split("^") if len(p) >= MIN_VALUE_LEN
                )
    return out


def _text_of(ds: Dataset) -> str:
    parts = [str(e.value) for e in _walk(ds) if e.VR in _PHI_VRS]
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        parts += [str(e.value) for e in meta]
    return "\n".join(parts)


def check_file(path: Path, source: str, deid: Deidentifier) -> FileResult:
    """De-identify one file's header and look for every raw identifying value in the result."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - unreadable files never reach the manifest (RecordError at decode)
        return FileResult(source, str(path), "unreadable")
    out = deid.deidentify(ds, path.stem)
    after = _text_of(out.dataset) + "\n" + json.dumps(header(out), default=str)
    survivors = sorted(k for k, values in identifying_values(ds).items() if any(v in after for v in values))
    return FileResult(
        source, str(path), "checked", set(out.removed), set(out.replaced), out.private_tags_removed, survivors
    )


def _test_fixtures(folder: Path) -> Iterator[tuple[str, Path]]:
    """DICOM fixtures of the unit tests, when ``tests`` is importable (repository root on sys.path)."""
    try:
        from tests.unit.catalog import test_catalog_vindr_cxr as vindr_tests
        from tests.unit.catalog import test_dicom as dicom_tests
    except Exception:  # noqa: BLE001 - an installed package has no tests
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "test_dicom_phi.dcm"
    dicom_tests._save(dicom_tests._phi_dataset(), path)
    yield "tests:test_dicom", path
    path = folder / "0123abcd4567ef89.dicom"  # the fixture derives a UID from the hex stem
    vindr_tests._dicom(path, "VN-PATIENT-0042", "20200102")
    yield "tests:test_catalog_vindr_cxr", path


def collect(workdir: Path, n_records: int = 4) -> Iterator[tuple[str, Path]]:
    """(source, path) of every DICOM file to check, generated under ``workdir``."""
    from climbflow.hardening import badinput
    from climbflow.sampledata import write

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
    yield from _test_fixtures(workdir / "tests")


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
