"""kfp.local's indenting ``print`` swap, interleaved as two parallel tasks (threads) interleave it, leaves an
indenting ``print`` installed; :func:`print_restored` puts the caller's back."""

from __future__ import annotations

import builtins
import io

from kfp.local import logging_utils

from climbflow.kfp_local_print import print_restored


def _interleave_two_tasks() -> None:
    """Task A starts, task B starts, A ends, B ends: B restores A's indenting print (kfp 2.x behaviour)."""
    a, b = logging_utils.indented_print(), logging_utils.indented_print()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    b.__exit__(None, None, None)


def test_interleaved_tasks_leave_an_indenting_print_behind():
    original = builtins.print
    try:
        _interleave_two_tasks()
        assert builtins.print is not original  # the leak this module exists for (kfp upstream)
    finally:
        builtins.print = original


def test_print_restored_puts_the_callers_print_back(capsys):
    original = builtins.print
    with print_restored():
        _interleave_two_tasks()
    assert builtins.print is original
    err = io.StringIO()
    print("to stderr", file=err)
    assert capsys.readouterr().out == ""  # no stray indentation on stdout
    assert err.getvalue() == "to stderr\n"


def test_print_restored_also_on_error():
    original = builtins.print
    try:
        with print_restored():
            _interleave_two_tasks()
            raise RuntimeError("task failed")
    except RuntimeError:
        pass
    assert builtins.print is original
