"""Progress of long loops on stderr (stdout stays machine-readable): a live rich bar with the rate when stderr
is a terminal; otherwise, when a ``unit`` is given, one summary line at the end so logs stay clean."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def track(
    items: Iterable[T],
    description: str,
    total: int | None = None,
    unit: str | None = None,
    weight: Callable[[T], int] | None = None,
) -> Iterator[T]:
    """Yield ``items``; progress counts ``weight(item)`` ``unit``s per item (default 1 per item)."""
    start, done = time.monotonic(), 0
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        rate = TextColumn("{task.fields[rate]}")
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            rate,
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(file=sys.stderr), transient=True) as bar:
            task = bar.add_task(description, total=total, rate="")
            for item in items:
                yield item
                done += weight(item) if weight else 1
                speed = done / max(time.monotonic() - start, 1e-9)
                bar.update(task, completed=done, rate=f"{speed:.1f} {unit or 'items'}/s")
    else:
        for item in items:
            yield item
            done += weight(item) if weight else 1
    if unit:
        seconds = time.monotonic() - start
        speed = done / max(seconds, 1e-9)
        print(f"{description}: {done} {unit} in {seconds:.1f} s ({speed:.1f} {unit}/s)", file=sys.stderr)
