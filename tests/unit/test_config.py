"""params.yaml loads into typed models; wrong keys/values fail naming the key, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from climbflow.config import ConfigError, load, parse

REPO = Path(__file__).resolve().parents[2]


def _data() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_repo_params_load():
    params = load(REPO / "params.yaml")
    assert params.enabled_datasets() == ["ptbxl", "chexpert"]
    assert params.dataset_options("chexpert").uncertain == "zeros"
    assert params.validate_.max_quarantine_fraction == 0.2


def test_unknown_key_names_key_and_allowed_keys():
    data = _data()
    data["pretrain"]["epochz"] = 3
    with pytest.raises(ConfigError) as err:
        parse(data)
    msg = str(err.value)
    assert "pretrain.epochz" in msg and "unknown key" in msg and "epochs" in msg


def test_bad_literal_value_names_allowed_values():
    data = _data()
    data["finetune"]["mode"] = "partial"
    with pytest.raises(ConfigError) as err:
        parse(data)
    assert "finetune.mode='partial'" in str(err.value) and "'full'" in str(err.value)


def test_bad_dataset_option_names_dataset_key_value():
    data = _data()
    data["datasets"]["chexpert"]["options"]["uncertain"] = "maybe"
    with pytest.raises(ConfigError) as err:
        parse(data)
    msg = str(err.value)
    assert "datasets.chexpert.options" in msg and "maybe" in msg and "ignore" in msg


def test_unknown_dataset_lists_known():
    data = _data()
    data["datasets"]["mimic"] = {"source": "/x"}
    with pytest.raises(ConfigError) as err:
        parse(data)
    assert "unknown dataset 'mimic'" in str(err.value) and "ptbxl" in str(err.value)


def test_range_and_cross_field_rules():
    data = _data()
    data["standardize"]["split"] = {"val_fraction": 0.6, "test_fraction": 0.5}
    with pytest.raises(ConfigError, match="val_fraction \\+ test_fraction"):
        parse(data)
    data = _data()
    data["pretrain"]["epochs"] = 0
    with pytest.raises(ConfigError, match="pretrain.epochs=0"):
        parse(data)


def test_overrides_are_parsed_as_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text())
    params = load(path, {"pretrain.epochs": "3", "datasets.chexpert.enabled": "false"})
    assert params.pretrain.epochs == 3
    assert params.enabled_datasets() == ["ptbxl"]


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(bad)
