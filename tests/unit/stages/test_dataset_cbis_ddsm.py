"""CBIS-DDSM sample -> ingest -> validate -> standardize: one BI-RADS 1-5 one-hot per mammogram (highest
assessment of its abnormalities), official test split, aspect-preserving (3, 64, 64)."""

from __future__ import annotations

import json

import numpy as np

from climbflow.catalog.cbis_ddsm import BIRADS_CLASSES
from climbflow.catalog.dicom import SALT_ENV

N = 40


def test_cbis_ddsm_standardized(standardized_sample, monkeypatch):
    monkeypatch.setenv(SALT_ENV, "stage-test-salt")
    reader = standardized_sample("cbis_ddsm", N)
    m = reader.manifest
    assert len(m) == N and reader.quarantine.empty
    assert reader.labels["task"] == "multiclass" and reader.labels["classes"] == list(BIRADS_CLASSES)

    targets = reader.targets()
    assert (targets.sum(axis=1) == 1).all()
    for target, given, meta in zip(targets, m["source_labels"], m["meta"], strict=True):
        rows = json.loads(given)
        assert int(target.argmax()) + 1 == max(r["assessment"] for r in rows)
        malignant = any(r["pathology"] == "MALIGNANT" for r in rows)
        assert json.loads(meta)["pathology"] == ("MALIGNANT" if malignant else "BENIGN")

    test = m["sample_id"].str.contains("-Test_P_")
    assert (m.loc[test, "split"] == "test").all() and set(m.loc[~test, "split"]) <= {"train", "val"}
    assert m["patient_id"].str.fullmatch(r"P_\d{5}").all()
    assert m.groupby("patient_id")["split"].nunique().max() == 1
    metas = [json.loads(s) for s in m["meta"]]
    assert {meta["modality"] for meta in metas} == {"MG"} and {meta["view"] for meta in metas} == {
        "CC",
        "MLO",
    }
    # the csv's breast/view and the DICOM header agree
    assert all((m_["breast"][0], m_["view"]) == (m_["laterality"], m_["view_position"]) for m_ in metas)

    x = reader.sample(0)
    assert x.shape == (3, 64, 64) and x.dtype == np.uint8
    # a mammogram is taller than wide: the resize keeps its aspect and pads left and right
    for i in range(len(m)):
        s = reader.sample(i)[0]
        assert s[:, :4].max() == 0 and s[:, -4:].max() == 0 and s[:, 20:44].mean() > 10
