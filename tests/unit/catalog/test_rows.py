"""The catalog's shared csv/row helpers: BOM and gzip csvs, line numbers, required columns, file checks."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from climbflow.catalog.base import CatalogError, Rejected
from climbflow.catalog.rows import csv_header, csv_rows, file_rejection

TEXT = 'id,label\na,1\n"b\nwith a newline",0\n'


def test_rows_and_header_of_bom_csv_and_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "m.csv"
    plain.write_bytes(b"\xef\xbb\xbf" + TEXT.encode())
    packed = tmp_path / "m.csv.gz"
    packed.write_bytes(gzip.compress(TEXT.encode()))
    for path in (plain, packed):
        assert csv_header(path) == ["id", "label"]
        # line = the csv line the row ends on (the quoted cell spans lines 3-4)
        assert list(csv_rows(path, ("id", "label"))) == [
            (2, {"id": "a", "label": "1"}),
            (4, {"id": "b\nwith a newline", "label": "0"}),
        ]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert csv_header(empty) == []


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(TEXT)
    expected = r"m\.csv: required column 'diagnosis' missing \(columns: \['id', 'label'\]\)"
    with pytest.raises(CatalogError, match=expected):
        list(csv_rows(path, ("id", "diagnosis")))


def test_file_rejection_rules(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"x")

    def check(value: str) -> Rejected | None:
        return file_rejection(tmp_path, f"img/{value}.png", "id", value, value, "m.csv", "m.csv line 2")

    assert check("a") is None
    assert check("b") == Rejected("b", "m.csv", "missing_file", "m.csv line 2: image img/b.png not found")
    for bad in ("../a", "/etc/a", "a\0"):
        refused = check(bad)
        assert refused is not None and refused.rule == "unsafe_path"
        assert refused.message.startswith("m.csv line 2: id path ")
