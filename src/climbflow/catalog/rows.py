"""What the csv-driven catalog entries share: reading a metadata csv and checking the file a row names."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from climbflow.catalog.base import CatalogError, Rejected, unsafe_path


def open_csv(path: Path) -> TextIO:
    """A metadata csv (or ``.csv.gz``) as text, a leading BOM dropped."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding="utf-8-sig")
    return path.open(newline="", encoding="utf-8-sig")


def csv_header(path: Path) -> list[str]:
    """The csv's first row ([] for an empty file)."""
    with open_csv(path) as fh:
        return next(csv.reader(fh), [])


def csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) per data row; :class:`CatalogError` naming the file if a required column is missing."""
    with open_csv(path) as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        for column in columns:
            if column not in header:
                raise CatalogError(f"{path}: required column {column!r} missing (columns: {header})")
        for row in reader:
            yield reader.line_num, row


def file_rejection(
    root: Path, rel: str, column: str, value: str, record_id: str, source: str, where: str
) -> Rejected | None:
    """Why the image ``rel`` built from the cell ``column`` = ``value`` cannot be used, else None:
    ``unsafe_path`` if the cell could reach outside ``root``, ``missing_file`` if ``rel`` is not a file."""
    problem = unsafe_path(value)
    if problem:
        return Rejected(record_id, source, "unsafe_path", f"{where}: {column} {problem}")
    if not (root / rel).is_file():
        return Rejected(record_id, source, "missing_file", f"{where}: image {rel} not found")
    return None
