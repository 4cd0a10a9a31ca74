"""VinDr-CXR labels mapped onto CheXpert-14 mean what CheXpert's columns mean: CLIMB's mapping, except that
Mediastinal shift is not an Enlarged Cardiomediastinum, and CheXpert's hierarchy (Consolidation, Edema,
Pneumonia are Lung Opacities) is applied."""

from __future__ import annotations

import pytest

from climbflow.catalog.chexpert import LABELS
from climbflow.catalog.vindr_cxr import VINDR_LABELS, VinDrCXR, aggregate

# The oracle, by hand from CLIMB's vindr_cxr.py mapping (research/climb.md) and CheXpert's label definitions.
EXPECTED: dict[str, set[str]] = {
    "Aortic enlargement": {"Enlarged Cardiomediastinum"},
    "Atelectasis": {"Atelectasis"},
    "Calcification": set(),
    "Cardiomegaly": {"Cardiomegaly"},
    "Clavicle fracture": {"Fracture"},
    "Consolidation": {"Consolidation", "Lung Opacity"},
    "Edema": {"Edema", "Lung Opacity"},
    "Emphysema": set(),
    "Enlarged PA": {"Enlarged Cardiomediastinum"},
    "ILD": set(),
    "Infiltration": {"Lung Opacity"},
    "Lung Opacity": {"Lung Opacity"},
    "Lung cavity": {"Lung Lesion"},
    "Lung cyst": {"Lung Lesion"},
    "Mediastinal shift": set(),  # a displaced mediastinum, not a widened one (CLIMB: Enlarged Cardiomediastinum)
    "Nodule/Mass": {"Lung Lesion"},
    "Pleural effusion": {"Pleural Effusion"},
    "Pleural thickening": {"Pleural Other"},
    "Pneumothorax": {"Pneumothorax"},
    "Pulmonary fibrosis": set(),
    "Rib fracture": {"Fracture"},
    "Other lesion": {"Lung Lesion"},
    "COPD": set(),
    "Lung tumor": {"Lung Lesion"},
    "Pneumonia": {"Pneumonia", "Lung Opacity"},
    "Tuberculosis": set(),
    "Other diseases": set(),
    "No finding": {"No Finding"},
}


def _classes(target: tuple[float, ...]) -> set[str]:
    return {name for name, v in zip(LABELS, target, strict=True) if v == 1.0}


def test_every_vindr_label_maps_as_chexpert_defines_it() -> None:
    assert set(EXPECTED) == set(VINDR_LABELS)
    got = {label: _classes(aggregate([{label}], "majority")) for label in VINDR_LABELS}
    assert got == EXPECTED


def test_lung_opacity_is_voted_on_the_implied_labels() -> None:
    # each reader sees a different kind of opacity: no finding has a majority, Lung Opacity has 3/3
    target = aggregate([{"Consolidation"}, {"Edema"}, {"Pneumonia"}], "majority")
    assert _classes(target) == {"Lung Opacity"}
    assert _classes(aggregate([{"Mediastinal shift"}, {"Mediastinal shift"}, set()], "majority")) == set()


def test_label_version_is_part_of_the_cache_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIMBFLOW_DEID_SALT", "a-test-salt-of-enough-length-0123456789")
    before = VinDrCXR().cache_token()
    monkeypatch.setattr("climbflow.catalog.vindr_cxr.CXR_LABELS_VERSION", "a-newer-mapping")
    assert VinDrCXR().cache_token() != before
