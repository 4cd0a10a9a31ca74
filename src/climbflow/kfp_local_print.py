"""kfp.local swaps ``builtins.print`` for an indenting one while each task runs (``logging_utils.indented_print``).
Parallel tasks run in threads, so one task can restore another's indenting print and leave it installed: from
then on every ``print(..., file=sys.stderr)`` of the process also writes four spaces to stdout."""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def print_restored() -> Iterator[None]:
    """Within the block kfp.local may swap ``print``; on exit the caller's ``print`` is back, whatever happened."""
    original = builtins.print
    try:
        yield
    finally:
        builtins.print = original
