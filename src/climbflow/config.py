"""Typed configuration loaded from ``params.yaml`` (the one config of climbflow).

Every section is a pydantic model that forbids unknown keys, so a typo fails at load time with a
message naming the key, the value and what is allowed (see :func:`load`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Modality = Literal["ecg", "eeg", "image2d", "video", "volume", "ehr", "graph"]


class ConfigError(ValueError):
    """A params.yaml key or value is wrong; the message names the key, the value and what is allowed."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkspaceConfig(Section):
    """Where the embedded default keeps everything (relative paths are relative to params.yaml)."""

    root: str = "workspace"
    experiment: str = "climbflow"
    tracking_uri: str | None = Field(None, description="MLflow URI; default sqlite:///<root>/mlflow.db")
    artifact_location: str | None = Field(None, description="MLflow artifacts; default <root>/mlartifacts")
    dvc_remote: str | None = Field(
        None, description="DVC remote URL (path or s3://); default <root>/dvc-remote"
    )
    dvc_remote_endpoint: str | None = Field(None, description="S3 endpoint URL for an s3:// DVC remote")


class DatasetConfig(Section):
    source: str = Field(description="raw copy of the dataset in its real layout: folder or s3:// prefix")
    enabled: bool = True
    options: dict[str, Any] = Field(
        default_factory=dict, description="dataset-specific, see `climb datasets`"
    )


class SampleDataConfig(Section):
    records: dict[str, int] = Field(default_factory=lambda: {"ptbxl": 800, "chexpert": 600})
    shuffle_labels: bool = Field(False, description="negative control: labels permuted across records")


class ValidateConfig(Section):
    sample_records: int = Field(32, ge=1, description="records decoded and checked by the GX suite")
    max_quarantine_fraction: float = Field(0.2, ge=0.0, le=1.0)
    min_records: int = Field(10, ge=1)


class EcgStandardizeConfig(Section):
    sampling_rate: int = Field(500, gt=0)
    seconds: float = Field(10.0, gt=0)
    leads: list[str] = Field(
        default_factory=lambda: ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    )


class EegStandardizeConfig(Section):
    """Referential 10-20 channels, band-pass + notch filtered, resampled, cut into fixed windows."""

    sampling_rate: int = Field(200, ge=50, le=1000)
    window_seconds: float = Field(10.0, gt=0)
    max_windows: int = Field(6, ge=1, description="windows kept per recording (from its start)")
    channels: list[str] = Field(
        default_factory=lambda: [
            "FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T3", "C3", "CZ",
            "C4", "T4", "T5", "P3", "PZ", "P4", "T6", "O1", "O2",
        ]
    )
    bandpass: tuple[float, float] = (0.5, 50.0)
    notch: float | None = Field(60.0, description="mains frequency (60 US / 50 EU); null = no notch")


class ImageStandardizeConfig(Section):
    size: int = Field(224, ge=16, le=2048, description="square side after aspect-preserving pad")
    channels: Literal[1, 3] = Field(3, description="3 = RGB (grayscale replicated), 1 = luma")


class VideoStandardizeConfig(Section):
    frames: int = Field(32, ge=1, description="frames sampled uniformly over one clip")
    size: int = Field(112, ge=16, le=1024)
    channels: Literal[1, 3] = 1


class VolumeStandardizeConfig(Section):
    depth: int = Field(32, ge=1, description="slices after resampling along the scan axis")
    size: int = Field(96, ge=16, le=1024)
    window_level: float = Field(40.0, description="HU window centre (soft tissue / kidney)")
    window_width: float = Field(400.0, gt=0)


class EhrStandardizeConfig(Section):
    observation_hours: float = Field(48.0, gt=0, description="only data before admit + this many hours")


class GraphStandardizeConfig(Section):
    nodes: int = Field(200, ge=2, description="ROIs of the connectivity matrix (atlas size)")
    edge_fraction: float = Field(0.1, gt=0, le=1, description="strongest |r| edges kept per node")


class SplitConfig(Section):
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    test_fraction: float = Field(0.2, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _fractions_leave_train(self) -> SplitConfig:
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must be < 1 so that a train split remains")
        return self


class StandardizeConfig(Section):
    shard_size: int = Field(1000, ge=1, description="samples per shard file")
    workers: int = Field(0, ge=0, description="processes standardizing shard ranges; 0 = min(4, CPUs)")
    ecg: EcgStandardizeConfig = EcgStandardizeConfig()
    eeg: EegStandardizeConfig = EegStandardizeConfig()
    image2d: ImageStandardizeConfig = ImageStandardizeConfig()
    video: VideoStandardizeConfig = VideoStandardizeConfig()
    volume: VolumeStandardizeConfig = VolumeStandardizeConfig()
    ehr: EhrStandardizeConfig = EhrStandardizeConfig()
    graph: GraphStandardizeConfig = GraphStandardizeConfig()
    split: SplitConfig = SplitConfig()


class EncoderConfig(Section):
    width: int = Field(32, ge=4)
    depth: int = Field(4, ge=1, le=8)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)


class OptimConfig(Section):
    epochs: int = Field(10, ge=1)
    epochs_by_modality: dict[Modality, int] = Field(
        default_factory=dict, description="per-modality override of epochs, e.g. {image2d: 40}"
    )
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    warmup_steps: int = Field(20, ge=0)
    grad_clip: float = Field(2.0, gt=0)

    def for_modality(self, modality: str) -> Self:
        """This config with ``epochs`` resolved for ``modality``."""
        return self.model_copy(update={"epochs": self.epochs_by_modality.get(modality, self.epochs)})


class PretrainConfig(OptimConfig):
    modalities: list[Modality] = Field(default_factory=lambda: ["ecg", "image2d"])
    encoders: dict[Modality, EncoderConfig] = Field(
        default_factory=lambda: {"ecg": EncoderConfig(), "image2d": EncoderConfig()}
    )


class FinetuneConfig(OptimConfig):
    targets: list[str] = Field(default_factory=lambda: ["ptbxl", "chexpert"])
    mode: Literal["full", "linear"] = "full"


class EvaluateConfig(Section):
    threshold: float = Field(0.5, gt=0, lt=1)
    register_model: bool = True


class Params(Section):
    """The whole of params.yaml."""

    seed: int = 0
    workspace: WorkspaceConfig = WorkspaceConfig()
    datasets: dict[str, DatasetConfig]
    sample_data: SampleDataConfig = SampleDataConfig()
    validate_: ValidateConfig = Field(ValidateConfig(), alias="validate")
    standardize: StandardizeConfig = StandardizeConfig()
    pretrain: PretrainConfig = PretrainConfig()
    finetune: FinetuneConfig = FinetuneConfig()
    evaluate: EvaluateConfig = EvaluateConfig()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _known_datasets(self) -> Params:
        from climbflow import catalog

        for name, ds in self.datasets.items():
            spec = catalog.get(name)  # raises with the list of known datasets
            try:
                spec.Options.model_validate(ds.options)
            except ValidationError as exc:
                raise ValueError(
                    f"datasets.{name}.options: {'; '.join(format_errors(exc, spec.Options))}"
                ) from None
        for target in self.finetune.targets:
            if target not in self.datasets:
                raise ValueError(
                    f"finetune.targets: {target!r} is not a configured dataset; allowed: {sorted(self.datasets)}"
                )
        return self

    def enabled_datasets(self) -> list[str]:
        return [name for name, ds in self.datasets.items() if ds.enabled]

    def dataset_options(self, name: str) -> BaseModel:
        from climbflow import catalog

        return catalog.get(name).Options.model_validate(self.datasets[name].options)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Keys allowed at ``loc`` (for 'unknown key' errors)."""
    current: Any = model
    for part in loc[:-1]:
        field = getattr(current, "model_fields", {}).get(part) or next(
            (f for f in getattr(current, "model_fields", {}).values() if f.alias == part), None
        )
        if field is None:
            return []
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            current = ann
        else:
            return []
    return sorted((f.alias or n) for n, f in current.model_fields.items())


def format_errors(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """One line per error: the dotted key, the offending value and what is allowed."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc)
            lines.append(f"{key}: unknown key (value {err.get('input')!r}); allowed keys: {allowed}")
        elif err["type"] == "missing":
            lines.append(f"{key}: missing required key")
        else:
            ctx = err.get("ctx") or {}
            allowed = ctx.get("expected") or ctx.get("error") or ""
            msg = f"{key}={err.get('input')!r}: {err['msg']}" if key else err["msg"]
            if allowed and str(allowed) not in msg:
                msg += f" (allowed: {allowed})"
            lines.append(msg)
    return lines


def parse(data: dict[str, Any], origin: str = "params.yaml") -> Params:
    """Validate a params mapping; raises :class:`ConfigError` naming key, value and what is allowed."""
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        lines = format_errors(exc, Params)
        raise ConfigError(f"{origin}: invalid configuration\n  " + "\n  ".join(lines)) from None


def load(path: str | Path = "params.yaml", overrides: dict[str, Any] | None = None) -> Params:
    """Load and validate params.yaml; ``overrides`` maps dotted keys to values (``pretrain.epochs``)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    for dotted, value in (overrides or {}).items():
        apply_override(data, dotted, value)
    return parse(data, origin=str(path))


def apply_override(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested mapping (values given as YAML text are parsed)."""
    if isinstance(value, str):
        value = yaml.safe_load(value)
    node = data
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted}: {part} is not a mapping")
    node[leaf] = value
