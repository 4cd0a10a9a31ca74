"""VinDr-CXR sample -> ingest -> validate -> standardize: CheXpert-14 multilabel from 3 readers, official test
split, keyed patient pseudonyms, windowed / inverted DICOM pixels as (3, 64, 64)."""

from __future__ import annotations

import csv
import json

import numpy as np

from climbflow.catalog.chexpert import LABELS
from climbflow.catalog.dicom import SALT_ENV
from climbflow.catalog.vindr_cxr import aggregate

N = 40


def test_vindr_cxr_standardized(standardized_sample, tmp_path, monkeypatch):
    monkeypatch.setenv(SALT_ENV, "stage-test-salt")
    reader = standardized_sample("vindr_cxr", N)
    m, q = reader.manifest, reader.quarantine
    assert len(m) + len(q) == N and set(q["rule"]) <= {"no_majority"}  # readers rarely disagree
    assert reader.labels["task"] == "multilabel" and reader.labels["classes"] == list(LABELS)

    # the official test images are the test split; training images are hash-split into train/val by patient
    with (tmp_path / "raw/vindr_cxr/annotations/image_labels_test.csv").open() as fh:
        test_ids = {row["image_id"] for row in csv.DictReader(fh)}
    ids = m["sample_id"].str.removeprefix("vindr_cxr/")
    assert set(ids[m["split"] == "test"]) == test_ids
    assert set(m.loc[m["split"] != "test", "split"]) == {"train", "val"}
    assert m.groupby("patient_id")["split"].nunique().max() == 1

    # targets = majority vote of the readers' labels mapped to CheXpert (source_labels keeps them per reader)
    targets = reader.targets()
    for target, given in zip(targets, m["source_labels"], strict=True):
        assert tuple(target) == aggregate([set(v) for v in json.loads(given).values()], "majority")
    assert (targets.sum(axis=1) >= 1).all() and targets[:, LABELS.index("Support Devices")].sum() == 0

    metas = [json.loads(s) for s in m["meta"]]
    assert all(p.startswith("anon-") for p in m["patient_id"])
    assert [meta["patient_pseudonym"] for meta in metas] == list(m["patient_id"])
    assert m["patient_id"].nunique() < len(m)  # some patients have two studies
    assert {meta["photometric"] for meta in metas} == {"MONOCHROME1", "MONOCHROME2"}
    assert {"window", "minmax"} <= {meta["voi"] for meta in metas}
    assert all("InstitutionName" in meta["deid"]["removed"] for meta in metas)

    x = np.stack([reader.sample(i) for i in range(len(m))])
    assert x.shape == (len(m), 3, 64, 64) and x.dtype == np.uint8
    # MONOCHROME1 images are inverted on decode: they look like the MONOCHROME2 ones (dark lungs, bright body)
    gray = x[:, 0].reshape(len(m), -1).astype(float)
    mono1 = np.array([meta["photometric"] == "MONOCHROME1" for meta in metas])
    template = gray[~mono1].mean(axis=0)
    assert all(np.corrcoef(g, template)[0, 1] > 0.5 for g in gray[mono1])
