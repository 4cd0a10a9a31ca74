"""ABIDE through ingest -> validate -> standardize: Fisher-z node features, binary labels, patient split."""

from __future__ import annotations

import numpy as np


def test_abide_standardizes(standardized_sample):
    store = standardized_sample("abide", 40)
    assert store.labels["modality"] == "graph" and store.labels["task"] == "binary"
    assert store.labels["classes"] == ["autism"] and store.labels["sample_shape"] == [200, 200]
    x = store.sample(0)
    assert x.shape == (200, 200) and x.dtype == np.float16
    assert np.all(np.diag(x) == 0) and np.array_equal(x, x.T) and np.isfinite(x).all()
    assert np.abs(x).max() < 4.0  # |r| clipped at 0.999 before arctanh
    targets = {t[0] for t in store.manifest["target"]}
    assert targets == {0.0, 1.0}
    assert store.manifest.groupby("patient_id")["split"].nunique().max() == 1
    assert set(store.quarantine["rule"]) <= {"no_filename"}
