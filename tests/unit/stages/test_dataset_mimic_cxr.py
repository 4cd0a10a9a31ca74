"""MIMIC-CXR sample -> ingest -> validate -> standardize: CheXpert-14 multilabel, official subject-level split."""

from __future__ import annotations

import numpy as np

from climbflow.catalog.chexpert import LABELS

N = 40


def test_mimic_cxr_standardized(standardized_sample):
    reader = standardized_sample("mimic_cxr", N)
    m = reader.manifest
    assert len(m) == N and reader.quarantine.empty
    assert reader.labels["task"] == "multilabel" and reader.labels["classes"] == list(LABELS)
    assert reader.labels["official_split"] is True
    assert set(m["split"]) == {"train", "val", "test"}  # validate -> val
    assert m.groupby("patient_id")["split"].nunique().max() == 1
    assert m["patient_id"].str.fullmatch(r"1\d{7}").all()  # MIMIC subject_id
    targets = reader.targets()
    assert set(np.unique(targets)) <= {0.0, 1.0} and (targets.sum(axis=1) >= 1).mean() > 0.5
    x = reader.sample(0)
    assert x.shape == (3, 64, 64) and x.dtype == np.uint8
    assert (x[0] == x[1]).all() and (x[1] == x[2]).all()  # grayscale replicated to RGB
