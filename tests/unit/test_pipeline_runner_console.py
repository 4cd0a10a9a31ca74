"""What `climb run` prints while kfp.local runs the pipeline: one line per task, named by what it works on."""

# no `from __future__ import annotations`: KFP reads the components' annotations as types

import re

from kfp import dsl, local

from climbflow.pipeline_runner import announce_tasks, console_filter


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def ingest(dataset: str) -> str:
    return f"raw/{dataset}"


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def pretrain(modality: str, standardized: list) -> str:
    if modality == "eeg":
        raise ValueError("no EEG store")
    return f"encoder/{modality}"


@dsl.pipeline(name="console-names")
def _pipeline(datasets: list = ["ptbxl", "chexpert"]):  # noqa: B006 - KFP reads the default
    with dsl.ParallelFor(datasets) as dataset:
        snap = ingest(dataset=dataset).set_display_name("ingest")
    # two tasks of one component: kfp.local names the second 'pretrain-2'
    pretrain(modality="ecg", standardized=dsl.Collected(snap.output)).set_display_name("pretrain ecg")
    pretrain(modality="eeg", standardized=dsl.Collected(snap.output)).set_display_name("pretrain eeg")


def test_console_names_each_task_by_what_it_works_on(tmp_path, capfd):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    log_path = tmp_path / "run.log"
    with console_filter(log_path, verbose=False), announce_tasks():
        try:
            _pipeline()
        except RuntimeError:
            pass  # the eeg task fails on purpose
    console = [line for line in capfd.readouterr().out.splitlines() if line.strip()]
    started = sorted(line for line in console if line.startswith("task started:"))
    assert started == [
        "task started: ingest chexpert",
        "task started: ingest ptbxl",
        "task started: pretrain ecg",
        "task started: pretrain eeg",
    ]
    assert any(line.startswith("task done: ingest ptbxl (") for line in console)
    assert any(line.startswith("task FAILED: pretrain eeg (") for line in console)
    # kfp.local's own names ('pretrain-2', a bare 'ingest' twice) stay in the log file only
    assert not any("Executing task" in line or "pretrain-2" in line for line in console), console
    assert "Executing task 'pretrain-2'" in re.sub(r"\x1b\[[0-9;]*m", "", log_path.read_text())
