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
    push_raw: bool = Field(
        True, description="DVC-version and push raw snapshots (they may hold PHI); false keeps them local"
    )


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
    max_prevalence: float = Field(
        0.98, gt=0.0, le=1.0, description="a class positive in more is a mapping bug"
    )
    min_train_fraction: float = Field(0.3, ge=0.0, le=1.0, description="train split share of the records")


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
            "FP1",
            "FP2",
            "F7",
            "F3",
            "FZ",
            "F4",
            "F8",
            "T3",
            "C3",
            "CZ",
            "C4",
            "T4",
            "T5",
            "P3",
            "PZ",
            "P4",
            "T6",
            "O1",
            "O2",
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
    """Fixed (not fitted) feature transform; the observation window is the dataset option
    ``observation_hours`` (the catalog needs it to define the cohort and pick the CXR/ECG)."""

    clip: float = Field(5.0, gt=0, description="standardized features are clipped to +-clip")


class GraphStandardizeConfig(Section):
    """Connectivity matrix -> Fisher-z node features; the encoder picks edges (models.graph.EDGE_FRACTION)."""

    nodes: int = Field(200, ge=2, description="ROIs of the connectivity matrix (atlas size)")
    max_abs_r: float = Field(0.999, gt=0, lt=1, description="|r| clipped before the Fisher z-transform")


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
    arch: Literal["resnet", "convnextv2-atto", "convnextv2-tiny", "convnextv2-base"] = Field(
        "resnet",
        description="resnet (width/depth) for every modality; convnextv2-* (fixed sizes) for image2d",
    )
    width: int = Field(32, ge=4)
    depth: int = Field(4, ge=1, le=8)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)


class OptimConfig(Section):
    """Optimisation and the training loop (shared by pretrain and finetune)."""

    epochs: int = Field(10, ge=1)
    epochs_by_modality: dict[Modality, int] = Field(
        default_factory=dict, description="per-modality override of epochs, e.g. {image2d: 40}"
    )
    batch_size: int = Field(32, ge=1, description="samples per step and process")
    lr: float = Field(1e-3, gt=0, description="AdamW peak learning rate")
    weight_decay: float = Field(1e-2, ge=0)
    warmup_steps: int = Field(20, ge=0, description="linear warmup, then cosine decay to 0")
    grad_clip: float = Field(2.0, gt=0, description="gradient-norm clipping")
    steps_per_epoch: int | None = Field(
        None, ge=1, description="optimizer steps per epoch; null = one pass over the train split"
    )
    sampling: Literal["shuffle", "temperature"] = Field(
        "shuffle",
        description="shuffle: concatenate all datasets and shuffle (CLIMB); temperature: p_d ∝ n_d^alpha",
    )
    sampling_alpha: float = Field(
        0.5, ge=0.0, le=1.0, description="temperature sampling exponent: 1 = proportional, 0 = uniform"
    )
    precision: Literal["auto", "32-true", "bf16-mixed"] = Field(
        "auto", description="auto = bf16-mixed on CUDA, 32-true on CPU"
    )
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes")
    checkpoint_every_n_steps: int = Field(
        200, ge=0, description="write checkpoints/last.ckpt every N steps (resumed automatically); 0 = off"
    )

    def for_modality(self, modality: str) -> Self:
        """This config with ``epochs`` resolved for ``modality``."""
        return self.model_copy(update={"epochs": self.epochs_by_modality.get(modality, self.epochs)})


class PretrainConfig(OptimConfig):
    modalities: list[Modality] = Field(default_factory=lambda: ["ecg", "image2d"])
    encoders: dict[Modality, EncoderConfig] = Field(
        default_factory=lambda: {"ecg": EncoderConfig(), "image2d": EncoderConfig()}
    )
    contrastive: bool = Field(False, description="add CLIMB's supervised-contrastive auxiliary loss")
    contrastive_weight: float = Field(0.5, ge=0.0, description="weight of the contrastive term (CLIMB: 0.5)")
    contrastive_temperature: float = Field(0.07, gt=0.0, description="softmax temperature tau (CLIMB: 0.07)")
    devices: int | Literal["auto"] = Field(1, description="processes (GPUs / CPU processes) per node")
    num_nodes: int = Field(1, ge=1, description="nodes (e.g. PyTorchJob replicas)")
    strategy: str = Field("auto", description="Lightning strategy: auto | ddp | ddp_spawn | ...")
    compile: bool = Field(
        False, description="torch.compile the encoder (faster steps on GPU after a warm-up)"
    )


class FinetuneConfig(OptimConfig):
    targets: list[str] = Field(default_factory=lambda: ["ptbxl", "chexpert"])
    mode: Literal["full", "linear"] = Field("full", description="full: train all; linear: frozen encoder")
    few_shot: int | None = Field(
        None, ge=1, description="k train samples per label combination (CLIMB: 1 / 8 / 32); null = all"
    )


class EvaluateConfig(Section):
    threshold: float = Field(0.5, gt=0, lt=1)
    bootstrap: int = Field(1000, ge=0, description="patient-level bootstrap replicates for 95% CIs; 0 = none")
    register_model: bool = True


FUSION_MODALITIES = ("ehr", "text", "image2d", "ecg")


class FusionConfig(Section):
    """Fusion training (``params.fusion``)."""

    strategy: Literal["late", "concat", "cross_attention", "gated"] = "concat"
    target: str | None = Field(None, description="class of the EHR store to predict; None = its only class")
    task: Literal["auto", "binary", "regression"] = Field(
        "auto", description="auto: regression if the EHR store's task is regression, else binary"
    )
    modalities: list[Literal["ehr", "text", "image2d", "ecg"]] = Field(
        default_factory=lambda: list(FUSION_MODALITIES)
    )
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=2)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    warmup_steps: int = Field(20, ge=0)
    grad_clip: float = Field(2.0, gt=0)
    hidden: int = Field(128, ge=4)
    heads: int = Field(4, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    freeze_encoders: bool = Field(
        False, description="pretrained encoders get no gradient (text is always frozen)"
    )
    few_shot: int | None = Field(None, ge=1, description="k train samples per class / rounded-day bin")
    encoder: EncoderConfig = Field(EncoderConfig(), description="encoders not loaded from an encoder.pt")
    text_tokens: int = Field(64, ge=1, description="text tokens kept per admission (cross-attention)")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"modalities must be non-empty and unique, got {self.modalities}")
        return self


TaskType = Literal["binary", "multiclass", "multilabel", "regression"]


class PromotionConfig(Section):
    """The promotion gate (``climb promote``, retraining): what a challenger must show to become champion.

    Metric differences are absolute, in the metric's own units, signed so that positive = better (MAE and RMSE
    are lower-is-better). Both models are scored on the challenger's test split and compared per patient
    (paired bootstrap); by default the lower bound of the primary metric's gain must be > 0. A NaN / missing
    metric fails the rule (fail closed). With no champion yet, the challenger must meet ``floors`` instead.
    """

    primary_metric: dict[TaskType, str] = Field(
        default_factory=dict,
        description="per task type, the metric compared first (mae / rmse: lower is better); a task type not "
        "named here uses the evaluation's rule (climbflow.evaluate.scoring.primary_metric: macro_auc, mae)",
    )
    gate_on: Literal["lower_bound", "point"] = Field(
        "lower_bound",
        description="lower_bound: the lower end of the paired patient-bootstrap 95% CI of the primary-metric gain "
        "(both models scored on the challenger's test split) must exceed min_delta_lower_bound; point: the "
        "gain's point estimate must be > 0 and >= min_improvement",
    )
    min_delta_lower_bound: float = Field(
        0.0,
        description="gate_on lower_bound: the CI's lower bound of the gain must be > this (a tie never passes)",
    )
    bootstrap: int = Field(
        1000, ge=50, description="patient-level bootstrap replicates of the paired challenger - champion gain"
    )
    min_valid_fraction: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="least share of valid bootstrap replicates (every class of the estimate present) to trust the CI",
    )
    refuse_below_chance: bool = Field(
        True, description="refuse a challenger tagged climb.quality=below_chance (its CI lies below chance)"
    )
    min_improvement: float = Field(
        0.0,
        ge=0.0,
        description="gate_on point: the primary metric must beat the champion's by at least this much",
    )
    max_regression: float = Field(
        0.02, ge=0.0, description="largest allowed drop of any secondary headline metric vs the champion"
    )
    max_subtask_regression: float = Field(
        0.05, ge=0.0, description="largest allowed drop of any sub-task (per-class AUC) vs the champion"
    )
    secondary_metrics: list[str] | None = Field(
        None, description="metrics held to max_regression; null = the task's other headline metrics"
    )
    require_validation: bool = Field(
        True, description="every dataset the model was trained on passed validation"
    )
    require_same_test_split: bool = Field(
        True,
        description="compare challenger and champion on the same test patients: when their recorded test splits "
        "differ (new patients), the champion is re-scored on the challenger's test split (paired); false = "
        "compare recorded metrics across different splits (not recommended)",
    )
    floors: dict[str, float] = Field(
        default_factory=lambda: {"macro_auc": 0.6},
        description="no champion yet: absolute minimum per metric (a maximum for mae / rmse)",
    )


class ResourcesConfig(Section):
    """Container requests and limits (Kubernetes quantities) of one kind of task."""

    cpu_request: str = "1"
    cpu_limit: str | None = "2"
    memory_request: str = "2Gi"
    memory_limit: str | None = "4Gi"


class TolerationConfig(Section):
    key: str
    operator: Literal["Equal", "Exists"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = "NoSchedule"


class PyTorchJobConfig(Section):
    """Multi-node pretraining as a Kubeflow Training Operator PyTorchJob (``components/pretrain_job``)."""

    enabled: bool = Field(False, description="pretrain runs as a PyTorchJob instead of one pipeline pod")
    namespace: str = Field("climbflow", description="namespace of the PyTorchJob (the pipeline's namespace)")
    nodes: int = Field(2, ge=1, description="pods (Master + Workers), one per GPU node")
    gpus_per_node: int = Field(1, ge=0, le=16, description="processes (GPUs) per pod; 0 = CPU gloo")
    service_account: str = Field("climbflow-pipeline", description="service account of the job's pods")
    timeout_seconds: int = Field(6 * 3600, ge=60, description="the launcher fails the task after this")
    poll_seconds: float = Field(15.0, gt=0)
    delete_on_finish: bool = Field(False, description="delete the job (and its pods) when it ends")


class ClusterConfig(Section):
    """Kubernetes / Kubeflow settings the compiled pipelines carry (node pools, images, secrets).

    Compile-time values (baked into the pipeline YAML by ``climb compile``): images, node selectors,
    tolerations, requests/limits, /dev/shm size, Secret and PVC names, the PyTorchJob switch. GPU count and
    type are also pipeline parameters (their defaults come from here). ``namespace``, ``service_account`` and
    ``pipeline_root`` are submit-time defaults of `climb submit` / `climb schedule` (not compiled in).
    """

    image: str = Field("ghcr.io/climbflow/climbflow:0.1.0", description="CPU image of the components")
    gpu_image: str = Field("ghcr.io/climbflow/climbflow:0.1.0-gpu", description="CUDA image (GPU tasks)")
    cpu_node_selector: dict[str, str] = Field(
        default_factory=dict,
        description="labels of the CPU node pool, e.g. {cloud.google.com/gke-nodepool: cpu}",
    )
    gpu_node_selector: dict[str, str] = Field(
        default_factory=lambda: {"nvidia.com/gpu.present": "true"},
        description="labels of the GPU node pool, e.g. {cloud.google.com/gke-accelerator: nvidia-l4}",
    )
    gpu_tolerations: list[TolerationConfig] = Field(
        default_factory=lambda: [TolerationConfig(key="nvidia.com/gpu")],
        description="tolerations matching the GPU pool's taints",
    )
    accelerator_type: str = Field("nvidia.com/gpu", description="resource name of the accelerator")
    gpu_count: int = Field(1, ge=0, le=16, description="GPUs per GPU task (pipeline parameter default)")
    evaluate_on_gpu: bool = Field(True, description="evaluate runs on the GPU pool (else on the CPU pool)")
    cpu_resources: ResourcesConfig = ResourcesConfig()
    gpu_resources: ResourcesConfig = ResourcesConfig(
        cpu_request="8", cpu_limit="16", memory_request="32Gi", memory_limit="64Gi"
    )
    shm_size: str = Field("16Gi", description="memory-backed /dev/shm of GPU tasks (DataLoader workers)")
    s3_secret: str | None = Field(
        "climbflow-s3", description="Secret with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"
    )
    s3_secret_keys: list[str] = Field(default_factory=lambda: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
    mlflow_secret: str | None = Field(
        "climbflow-mlflow", description="Secret with MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD"
    )
    mlflow_secret_keys: list[str] = Field(
        default_factory=lambda: ["MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"]
    )
    config_map: str | None = Field(
        "climbflow-config", description="ConfigMap with MLFLOW_TRACKING_URI, AWS_ENDPOINT_URL, ... as env"
    )
    config_map_keys: list[str] = Field(
        default_factory=lambda: ["MLFLOW_TRACKING_URI", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"]
    )
    standardize_fanout: bool = Field(
        False,
        description=(
            "EXPERIMENTAL opt-in: standardize as a ParallelFor over shard ranges (one pod each), nested in "
            "the per-dataset ParallelFor, whose outputs are collected twice (dsl.Collected inside and "
            "outside); KFP's backend tests cover one level only. Off (default): one standardize task per "
            "dataset runs its ranges in a process pool (standardize.workers), as `climb run` does"
        ),
    )
    data_pvc: str | None = Field(None, description="PVC with the raw datasets / workspace (else S3 only)")
    data_mount_path: str = Field(
        "/data", description="where data_pvc is mounted; a workspace.root under it is shared by all pods"
    )
    pytorchjob: PyTorchJobConfig = PyTorchJobConfig()
    namespace: str | None = Field(
        None,
        description=(
            "Kubernetes namespace (Kubeflow profile) of the experiments and runs of `climb submit` / "
            "`climb schedule` (--namespace); multi-user Kubeflow requires it; null = single-user"
        ),
    )
    service_account: str | None = Field(
        None,
        description="service account the run's pods use (--service-account); null = the namespace's default",
    )
    pipeline_root: str | None = Field(
        None,
        description=(
            "where KFP writes task outputs, e.g. s3://climb-kfp/root (--pipeline-root); null = the "
            "deployment's default"
        ),
    )


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
    fusion: FusionConfig = FusionConfig()
    promotion: PromotionConfig = PromotionConfig()
    cluster: ClusterConfig = ClusterConfig()

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
        """The dataset's options; keys it shares with its modality's standardize section (e.g. the EEG
        ``window_seconds``) default to that section, so the window is configured in one place."""
        from climbflow import catalog

        spec = catalog.get(name)
        options = dict(self.datasets[name].options)
        section = getattr(self.standardize, spec.modality, None)
        for key in type(section).model_fields if section is not None else ():
            if key in spec.Options.model_fields:
                options.setdefault(key, getattr(section, key))
        return spec.Options.model_validate(options)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def select_datasets(params: Params, names: list[str]) -> Params:
    """``params`` with exactly ``names`` enabled, as the finetune targets, and their modalities pretrained."""
    from climbflow import catalog

    unknown = [n for n in names if n not in params.datasets]
    if unknown:
        raise ConfigError(
            f"--datasets: {unknown} not configured in params.yaml; configured: {sorted(params.datasets)}"
        )
    data = params.to_dict()
    for name, ds in data["datasets"].items():
        ds["enabled"] = name in names
    data["finetune"]["targets"] = list(names)
    modalities = [catalog.get(n).modality for n in names]
    data["pretrain"]["modalities"] = list(dict.fromkeys(modalities))
    return parse(data, origin="--datasets")


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


def apply_run_parameters(
    data: dict[str, Any],
    *,
    pretrain_epochs: int,
    finetune_epochs: int,
    batch_size: int,
    gpu_count: int,
    gpu_type: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Params:
    """The params of one pipeline run: ``data`` (the compiled params) with the run form's typed parameters
    applied, then the dotted ``overrides`` (which win). ``gpu_count`` is the GPU limit of the GPU pods: pretrain
    trains on that many devices (DDP when more than one; 0 = CPU, one process); finetune trains on one device.
    Both GPU values are recorded in ``cluster`` (what the run's pods got). A bad key or value raises
    :class:`ConfigError` naming it."""
    apply_override(data, "pretrain.epochs", pretrain_epochs)
    apply_override(data, "finetune.epochs", finetune_epochs)
    apply_override(data, "pretrain.batch_size", batch_size)
    apply_override(data, "finetune.batch_size", batch_size)
    apply_override(data, "pretrain.devices", max(int(gpu_count), 1))
    apply_override(data, "pretrain.strategy", "ddp" if int(gpu_count) > 1 else "auto")
    apply_override(data, "cluster.gpu_count", int(gpu_count))
    if gpu_type:
        apply_override(data, "cluster.accelerator_type", gpu_type)
    for key, value in sorted((overrides or {}).items()):
        apply_override(data, key, value)
    return parse(data, origin="pipeline parameters")
