"""The retraining plan's comparison of current vs recorded data versions (pure parts)."""

from __future__ import annotations

from climbflow.registry.retrain import compare, recorded_versions


def test_compare_names_each_dataset_status():
    rows = compare({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "9", "d": "4"}, ["a", "b", "c"])
    assert {k: r["status"] for k, r in rows.items()} == {
        "a": "unchanged",
        "b": "changed",
        "c": "added",
        "d": "removed",
    }
    assert rows["b"] == {"current": "2", "recorded": "9", "status": "changed"}
    # a dataset not behind this model is not compared even if its version moved
    assert set(compare({"a": "1", "x": "new"}, {"a": "1"}, ["a"])) == {"a"}


def test_recorded_versions_from_version_tags():
    tags = {
        "climb.data_version": "t.dir",
        "climb.data_version.ptbxl": "p.dir",
        "climb.data_version.x": "x.dir",
    }
    assert recorded_versions(tags) == {"ptbxl": "p.dir", "x": "x.dir"}
