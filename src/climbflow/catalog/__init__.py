"""Dataset registry: one module per source dataset, reading its real layout. ``catalog.get("ptbxl")``."""

from __future__ import annotations

import importlib

from climbflow.catalog.base import CatalogError, DatasetSpec, Excluded, RawRecord, RecordError, Rejected

# name -> "module:Class"; modules are imported on first use so `climb --help` stays fast.
_REGISTRY: dict[str, str] = {
    # ECG
    "ptbxl": "climbflow.catalog.ptbxl:PTBXL",
    "chapman": "climbflow.catalog.cinc2021:Chapman",
    "georgia": "climbflow.catalog.cinc2021:Georgia",
    "cpsc2018": "climbflow.catalog.cinc2021:CPSC2018",
    # EEG
    "tuab": "climbflow.catalog.tuab:TUAB",
    "tuev": "climbflow.catalog.tuev:TUEV",
    # 2D images: chest X-ray, mammography, dermoscopy, fundus, ultrasound
    "chexpert": "climbflow.catalog.chexpert:CheXpert",
    "mimic_cxr": "climbflow.catalog.mimic_cxr:MIMICCXR",
    "vindr_cxr": "climbflow.catalog.vindr_cxr:VinDrCXR",
    "cbis_ddsm": "climbflow.catalog.cbis_ddsm:CBISDDSM",
    "ham10000": "climbflow.catalog.ham10000:HAM10000",
    "isic2020": "climbflow.catalog.isic2020:ISIC2020",
    "aptos": "climbflow.catalog.aptos:APTOS",
    "busi": "climbflow.catalog.busi:BUSI",
    # CT volumes, echo video
    "kits23": "climbflow.catalog.kits23:KiTS23",
    "echonet": "climbflow.catalog.echonet:EchoNetLowEF",
    "echonet_ef": "climbflow.catalog.echonet:EchoNetEF",
    # multimodal EHR, graphs
    "mimic4": "climbflow.catalog.mimic4:MIMIC4",
    "mimic4_cxr": "climbflow.catalog.mimic4:MIMIC4CXR",
    "mimic4_ecg": "climbflow.catalog.mimic4:MIMIC4ECG",
    "abide": "climbflow.catalog.abide:ABIDE",
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


__all__ = ["CatalogError", "DatasetSpec", "Excluded", "RawRecord", "RecordError", "Rejected", "get", "names"]
