"""MIMIC-IV EHR + linked CXR + ECG through ingest -> validate -> standardize: shapes, targets, joined splits."""

from __future__ import annotations

import json

import numpy as np

from climbflow.modalities.ehr import FEATURES


def _three_stores(tmp_path, params_factory, n: int):
    """One sample copy, read by the three entries (as a user would point them at one MIMIC root)."""
    from climbflow import sampledata
    from climbflow.stages import ingest, standardize, validate
    from climbflow.store.format import StoreReader

    src = str(sampledata.write("mimic4", tmp_path / "raw" / "mimic", n, seed=0))
    names = ("mimic4", "mimic4_cxr", "mimic4_ecg")
    params = params_factory(dict.fromkeys(names, src))
    stores = []
    for name in names:
        snap = ingest.run(params, name)
        val = validate.run(params, name, snap.uri)
        stores.append(StoreReader(standardize.run(params, name, snap.uri, val.uri).uri))
    return stores


def test_three_entries_standardize_and_share_splits(tmp_path, params_factory):
    ehr, cxr, ecg = _three_stores(tmp_path, params_factory, 36)

    assert ehr.labels["modality"] == "ehr" and ehr.labels["task"] == "binary"
    assert (
        ehr.labels["classes"]
        == cxr.labels["classes"]
        == ecg.labels["classes"]
        == ["in_hospital_mortality_48h"]
    )
    x = ehr.sample(0)
    assert x.shape == (len(FEATURES),) and x.dtype == np.float32 and np.abs(x).max() <= 5.0
    assert cxr.sample(0).shape == tuple(cxr.labels["sample_shape"]) and cxr.sample(0).ndim == 3
    assert ecg.sample(0).shape == (12, 5000)
    meta = json.loads(ehr.manifest["meta"].iloc[0])
    assert meta["text"].startswith("demographics: ") and meta["observation_hours"] == 48.0

    def by_hadm(store):
        m = store.manifest
        return {
            sid.split("/", 1)[1]: (split, pid, tuple(t))
            for sid, split, pid, t in zip(
                m["sample_id"], m["split"], m["patient_id"], m["target"], strict=True
            )
        }

    e, c, g = by_hadm(ehr), by_hadm(cxr), by_hadm(ecg)
    assert 0 < len(c) < len(e) and 0 < len(g) < len(e), "admissions without a CXR/ECG are not records"
    assert set(c) <= set(e) and set(g) <= set(e)
    for other in (c, g):
        assert all(other[h] == e[h] for h in other), "same split, patient and target for the same hadm_id"
    assert set(ehr.manifest["split"]) == {"train", "val", "test"}
    assert ehr.manifest.groupby("patient_id")["split"].nunique().max() == 1
    targets = np.array([t[0] for t in ehr.manifest["target"]])
    assert set(targets) == {0.0, 1.0}
    assert set(ehr.quarantine["rule"]) <= {"ended_before_prediction"}


def test_length_of_stay_target(standardized_sample):
    store = standardized_sample("mimic4", 30, **{"datasets.mimic4.options": {"target": "los"}})
    assert store.labels["task"] == "regression" and store.labels["classes"] == ["length_of_stay_days"]
    los = np.array([t[0] for t in store.manifest["target"]])
    assert (los > 2.0).all() and los.max() > 4.0


def test_cohort_exclusions_are_listed_but_not_counted_as_bad_input(tmp_path, params_factory):
    """A 4-day prediction time excludes most admissions (they end earlier): validation still passes, because
    cohort exclusions are not bad records; they are counted and listed with their rule."""
    from climbflow import sampledata
    from climbflow.stages import ingest, standardize, validate
    from climbflow.store.format import StoreReader

    src = str(sampledata.write("mimic4", tmp_path / "raw" / "mimic", 30, seed=0))
    params = params_factory({"mimic4": src})
    params = params.model_copy(
        update={
            "datasets": {
                "mimic4": params.datasets["mimic4"].model_copy(update={"options": {"observation_hours": 96}})
            }
        }
    )
    snap = ingest.run(params, "mimic4")
    val = validate.run(params, "mimic4", snap.uri).report
    assert val["passed"] and val["n_excluded"] > 0.2 * (val["n_records"] + val["n_excluded"])
    store = StoreReader(
        standardize.run(params, "mimic4", snap.uri, validate.run(params, "mimic4", snap.uri).uri).uri
    )
    assert (store.quarantine["rule"] == "ended_before_prediction").sum() > 0
