"""Dataset registry: one module per source dataset, reading its real layout. ``catalog.get("ptbxl")``."""

from __future__ import annotations

import importlib

from climbflow.catalog.base import CatalogError, DatasetSpec, RawRecord, RecordError, Rejected

# name -> "module:Class"; modules are imported on first use so `climb --help` stays fast.
_REGISTRY: dict[str, str] = {
    "ptbxl": "climbflow.catalog.ptbxl:PTBXL",
    "chexpert": "climbflow.catalog.chexpert:CheXpert",
}


def names() -> list[str]:
    return sorted(_REGISTRY)


def spec_class(name: str) -> type[DatasetSpec]:
    if name not in _REGISTRY:
        raise CatalogError(f"unknown dataset {name!r}; known datasets: {names()}")
    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def get(name: str) -> type[DatasetSpec]:
    """The catalog entry (class) for ``name``; instantiate with its Options to index/decode."""
    return spec_class(name)


__all__ = ["CatalogError", "DatasetSpec", "RawRecord", "RecordError", "Rejected", "get", "names"]
