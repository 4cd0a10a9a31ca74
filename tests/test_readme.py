"""The README's commands run as written from a fresh clone: every `climb` command it shows exists with the options
it shows (checked with `--help`, so a renamed command or option breaks this), and nothing it shows needs a tool
that is not on PATH (`mlflow`, `dvc`, `python`) without the line that activates the environment."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from climbflow.cli import app

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def code_spans(text: str) -> list[str]:
    """Every line of a fenced code block and every inline code span."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    lines = [line for block in fenced for line in block.splitlines() if line.strip()]
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    return lines + re.findall(r"`([^`\n]+)`", prose)


def climb_commands(text: str) -> list[str]:
    """The `climb ...` invocations in the code spans (a cron line or ExecStart= holds one inside)."""
    found = []
    for span in code_spans(text):
        for match in re.finditer(r"(?:^|[\s/=])((?:bin/)?climb [^#&|;>]+)", span):
            found.append(match.group(1).strip())
    return sorted(set(found))


def resolve(words: list[str]) -> tuple[list[str], Any, list[str]]:
    """(subcommand path, the command, the options written after it). Typer vendors click: groups are found by
    their ``commands``."""
    command = typer.main.get_command(app)
    path = []
    for word in words:
        if word in getattr(command, "commands", {}):
            command = command.commands[word]
            path.append(word)
        else:
            break
    options = [w.split("=")[0] for w in words[len(path) :] if w.startswith("--")]
    return path, command, options


COMMANDS = climb_commands(README)
SERVICES = {"mlflow server"}  # names what the integration tier starts, not a command to type


def test_the_readme_shows_the_commands_users_need():
    assert len(COMMANDS) > 20
    for needed in ("bin/climb run", "bin/climb ui", "bin/climb promote climb-ptbxl"):
        assert any(c.startswith(needed) for c in COMMANDS), needed


@pytest.mark.parametrize("command", COMMANDS)
def test_each_readme_command_exists_with_its_options(command):
    assert command.startswith("bin/climb"), f"{command!r}: only bin/climb works from a fresh clone"
    words = shlex.split(command.replace("[", " ").replace("]", " "))[1:]
    path, cmd, options = resolve(words)
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, f"{command!r}: `climb {' '.join(path)} --help` failed:\n{result.output}"
    known = {opt for param in cmd.params for opt in [*param.opts, *param.secondary_opts]}
    unknown = [o for o in options if o not in known]
    assert not unknown, f"{command!r}: `climb {' '.join(path)}` has no option {unknown}"
    leftover = words[len(path) :]
    if hasattr(cmd, "commands"):
        assert not leftover, f"{command!r}: no subcommand {leftover[0]!r} under `climb {' '.join(path)}`"


def test_no_tool_that_is_not_on_path_from_a_fresh_clone():
    """`mlflow`, `dvc` and `python` only come with .venv: the README says `bin/climb ui`, `.venv/bin/python` or
    activates the environment first."""
    for span in code_spans(README):
        words = span.split()
        if len(words) > 1 and span not in SERVICES:  # a command, not a tool's name
            assert words[0] not in ("mlflow", "dvc", "python", "climb", "pytest"), span


def test_the_launcher_runs_as_written():
    result = subprocess.run(
        [str(REPO / "bin" / "climb"), "--help"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ui" in result.stdout and "lineage" in result.stdout
