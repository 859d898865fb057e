"""Pipeline files (``pipelines/*.toml``): source, parser, enrichers, model profile,
thresholds and outputs. Paths in them are relative to the file. Secrets (the Vault token,
Slack tokens) never go here: they come from the environment or files of their own."""

from __future__ import annotations

from pathlib import Path

import msgspec

from detector.actions.config import ActionsSection, SlackSection, VaultSection
from detector.config.loading import decode_file, invalid, parse_duration, resolve
from detector.config.streaming import StreamingSection
from detector.enrichers.sensitivity import LEVELS
from detector.errors import ConfigError
from detector.metrics_config import MetricsSection
from detector.store.config import StoreSection

__all__ = ["PipelineFile", "load_pipeline_file"]

PARSERS = ("vault", "cloudtrail")


class _Section(msgspec.Struct, forbid_unknown_fields=True):
    pass


class SourceSection(_Section):
    parser: str = "vault"
    paths: list[str] = []
    reorder_window: float | str = "5m"
    pair_timeout: float | str = "60s"
    poll_interval: float | str = "0.5s"

    def __post_init__(self) -> None:
        if self.parser not in PARSERS:
            raise invalid("parser", f"unknown parser {self.parser!r}; known: {', '.join(PARSERS)}")
        for name in ("reorder_window", "pair_timeout", "poll_interval"):
            try:
                setattr(self, name, parse_duration(getattr(self, name)))
            except ValueError as exc:
                raise invalid(name, str(exc)) from None


class GeoSection(_Section):
    enabled: bool = True
    city_db: str = ""
    asn_db: str = ""
    cache_size: int = 65536


class ServiceSection(_Section):
    inventory: str = ""


class SensitivityRuleEntry(_Section):
    pattern: str
    level: str

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise invalid("level", f"must be one of {', '.join(LEVELS)}, not {self.level!r}")


class SensitivitySection(_Section):
    default: str = "medium"
    rules: list[SensitivityRuleEntry] = []
    builtin_rules: bool = True

    def __post_init__(self) -> None:
        if self.default not in LEVELS:
            raise invalid("default", f"must be one of {', '.join(LEVELS)}, not {self.default!r}")


class EnrichersSection(_Section):
    geo: GeoSection = msgspec.field(default_factory=GeoSection)
    service: ServiceSection = msgspec.field(default_factory=ServiceSection)
    sensitivity: SensitivitySection = msgspec.field(default_factory=SensitivitySection)


class ModelSection(_Section):
    profile: str = "../models/default.toml"
    state_dir: str = "../models/state"
    # Population models are kept per partition of identities; the streaming runtime's
    # events topic has this many partitions, so both runtimes give the same risks.
    partitions: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.partitions <= 1024:
            raise invalid("partitions", f"must be between 1 and 1024, not {self.partitions}")


class ThresholdsSection(_Section):
    alert: float | None = None
    revoke: float | None = None
    alert_budget_per_day: float | None = None

    def __post_init__(self) -> None:
        for name in ("alert", "revoke"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise invalid(name, f"must be between 0 and 1, not {value}")


class OutputsSection(_Section):
    dir: str = "../out"
    deadletter_raw_bytes: int = 4096


class PipelineFile(msgspec.Struct, forbid_unknown_fields=True):
    """A pipeline file as written (validated; durations in seconds)."""

    name: str
    description: str = ""
    source: SourceSection = msgspec.field(default_factory=SourceSection)
    enrichers: EnrichersSection = msgspec.field(default_factory=EnrichersSection)
    model: ModelSection = msgspec.field(default_factory=ModelSection)
    thresholds: ThresholdsSection = msgspec.field(default_factory=ThresholdsSection)
    outputs: OutputsSection = msgspec.field(default_factory=OutputsSection)
    store: StoreSection = msgspec.field(default_factory=StoreSection)
    metrics: MetricsSection = msgspec.field(default_factory=MetricsSection)
    actions: ActionsSection = msgspec.field(default_factory=ActionsSection)
    vault: VaultSection = msgspec.field(default_factory=VaultSection)
    slack: SlackSection = msgspec.field(default_factory=SlackSection)
    streaming: StreamingSection = msgspec.field(default_factory=StreamingSection)
    path: str = ""

    def resolve(self, value: str) -> Path:
        """A path written in this file, relative to the file's directory."""
        return resolve(Path(self.path), value)


def load_pipeline_file(path: Path) -> PipelineFile:
    """Read and validate a pipeline file; raises :class:`ConfigError` naming the key."""
    pipeline = decode_file(path, PipelineFile)
    pipeline.path = str(path)
    for key, value in (
        ("model.profile", pipeline.model.profile),
        ("enrichers.service.inventory", pipeline.enrichers.service.inventory),
        ("enrichers.geo.city_db", pipeline.enrichers.geo.city_db),
        ("enrichers.geo.asn_db", pipeline.enrichers.geo.asn_db),
    ):
        if value and not pipeline.resolve(value).is_file():
            raise ConfigError(str(path), key, f"no such file: {pipeline.resolve(value)}")
    return pipeline
