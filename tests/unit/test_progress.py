"""Progress goes to stderr: a live bar with the rate on a terminal, one summary line otherwise."""

from __future__ import annotations

import io
import re

from climbflow import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_terminal_prints_one_summary_line_with_the_rate(capsys):
    assert list(progress.track([3, 4], "standardize x", 7, "records", weight=lambda n: n)) == [3, 4]
    out, err = capsys.readouterr()
    assert out == ""
    assert re.fullmatch(r"standardize x: 7 records in [\d.]+ s \([\d.]+ records/s\)\n", err)


def test_terminal_shows_a_live_bar_on_stderr_not_stdout(monkeypatch, capsys):
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    assert list(progress.track(range(3), "standardize x", 3, "records")) == [0, 1, 2]
    assert capsys.readouterr().out == ""  # before: rich drew the bar on stdout
    assert "records/s" in term.getvalue()
