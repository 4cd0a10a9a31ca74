"""Every bad-input case is caught with exactly its named rule; the report and the manifest match the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from climbflow.catalog.base import unsafe_path
from climbflow.hardening import badinput

MANIFEST = Path(__file__).resolve().parents[2] / "data" / "bad" / "manifest.json"
CASES = {case.id: case for case in badinput.cases()}
READERS = {"wfdb", "cinc_mat", "edf", "dicom", "image", "avi", "nifti", "npy", "csv", "yaml"}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, badinput.Outcome]:
    workdir = tmp_path_factory.mktemp("bad")
    return {o.case.id: o for o in badinput.run(workdir)}


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_case_is_caught_with_its_rule(outcomes, case_id):
    outcome = outcomes[case_id]
    assert outcome.got == outcome.case.rule, f"{case_id}: expected {outcome.case.rule}, got {outcome.got}"
    assert outcome.caught


def test_corpus_covers_every_reader_and_case_kind():
    assert {c.reader for c in CASES.values()} == READERS
    assert {c.stage for c in CASES.values()} == {"ingest", "index", "decode", "catalog", "config", "validate"}
    rules = {c.rule for c in CASES.values()}
    for rule in (
        "unsafe_path",
        "empty_file",
        "image_too_large",
        "volume_too_large",
        "video_too_large",
        "bad_sampling_rate",
        "nonfinite",
        "patient_leakage",
        "unknown_key",
        "not_a_mapping",
    ):
        assert rule in rules, rule
    traversal = {c.dataset for c in CASES.values() if c.rule == "unsafe_path"}
    assert {
        "ptbxl",
        "chexpert",
        "mimic_cxr",
        "vindr_cxr",
        "cbis_ddsm",
        "isic2020",
        "aptos",
        "echonet",
        "kits23",
        "mimic4_ecg",
        "mimic4_cxr",
        "chapman",
    } <= traversal


def test_manifest_matches_the_code():
    assert json.loads(MANIFEST.read_text()) == badinput.manifest()
    assert len({row["id"] for row in badinput.manifest()}) == len(CASES)


def test_traversal_targets_really_exist_outside_the_root(tmp_path):
    """The traversal cases point at real files, so only the unsafe_path rule (not missing_file) stops them."""
    corpus = badinput.Corpus(tmp_path)
    for case_id in ("chexpert_path_traversal", "ptbxl_path_traversal", "kits_path_traversal"):
        root = corpus.build(CASES[case_id])
        assert any((root.parent / badinput.OUTSIDE).rglob("*")), case_id


def test_generation_is_deterministic(tmp_path):
    def tree(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }

    for case_id in ("jpg_bomb", "wfdb_low_fs", "dicom_bomb"):
        a = badinput.Corpus(tmp_path / "a").build(CASES[case_id])
        b = badinput.Corpus(tmp_path / "b").build(CASES[case_id])
        assert tree(a) == tree(b), case_id


def test_a_wrong_rule_or_an_unbroken_copy_is_a_miss(tmp_path):
    corpus = badinput.Corpus(tmp_path)
    case = CASES["jpg_empty"]
    wrong = badinput.Case(
        "x", case.reader, case.dataset, case.broken, case.stage, "corrupt_image", case.build
    )
    assert not badinput.run(tmp_path / "w", [wrong])[0].caught
    intact = badinput.Case("y", "image", "chexpert", "nothing", "decode", "empty_file", lambda root: None)
    assert badinput.evaluate(intact, corpus.build(intact)) == "accepted"


def test_report_counts_and_per_reader_table(outcomes):
    text = badinput.report(list(outcomes.values()))
    assert text.splitlines()[0] == f"bad-input corpus: caught {len(CASES)} / {len(CASES)}"
    for reader in READERS:
        assert any(line.split()[:1] == [reader] for line in text.splitlines()), reader
    missed = badinput.report([badinput.Outcome(CASES["png_bomb"], "accepted")])
    assert "caught 0 / 1" in missed and "png_bomb: expected image_too_large, got accepted" in missed


def test_command_prints_the_count(capsys):
    code = badinput.main(["--case", "yaml_unknown_key", "--case", "yaml_not_a_mapping"])
    out = capsys.readouterr().out
    assert code == 0
    assert "caught 2 / 2" in out and "yaml" in out


@pytest.mark.parametrize(
    ("rel", "bad"),
    [
        ("train/patient1/x.jpg", False),
        ("files/p10/p1000/s1/a..b.jpg", False),
        ("../x", True),
        ("a/../../x", True),
        ("/etc/passwd", True),
        ("a/\0b", True),
    ],
)
def test_unsafe_path(rel, bad):
    assert (unsafe_path(rel) is not None) is bad
