"""Cell values of the datasets' tables: numbers as the CSVs write them (``'15709.0'``, ``''``, ``'nan'``)."""

from __future__ import annotations

import math
from typing import Any


def finite_float(raw: Any) -> float | None:
    """``'3.5'`` -> 3.5; None for blanks, non-numbers and NaN/inf."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def whole_number(raw: Any) -> int | None:
    """``'15709.0'`` -> 15709; None for blanks, non-numbers, NaN/inf and non-integral values."""
    value = finite_float(raw)
    return int(value) if value is not None and value.is_integer() else None
