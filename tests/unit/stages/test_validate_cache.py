"""validate's cache key and dvc.yaml's validate params cover the split settings it checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from climbflow.stages import StageFailed, ingest, validate

REPO = Path(__file__).resolve().parents[3]


def test_changing_split_fractions_revalidates(sample_root, params_factory):
    params = params_factory({"chexpert": str(sample_root / "chexpert")})
    snap = ingest.run(params, "chexpert")
    assert validate.run(params, "chexpert", snap.uri).report["passed"]
    # 95% of the hash-split patients to val/test leaves too little train data: min_train_fraction must now fail
    skewed = params_factory(
        {"chexpert": str(sample_root / "chexpert")},
        **{"standardize.split.val_fraction": 0.9, "standardize.split.test_fraction": 0.05},
    )
    with pytest.raises(StageFailed, match="train"):  # before: a cache hit returned the stale pass
        validate.run(skewed, "chexpert", snap.uri)


def test_dvc_yaml_validate_depends_on_split_settings():
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["validate"]["do"]
    params = stage["params"]
    assert "standardize.split" in params or "standardize" in params
