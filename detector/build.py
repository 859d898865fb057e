"""Assembling a :class:`~detector.pipeline.Pipeline` from its pipeline file."""

from __future__ import annotations

from pathlib import Path

from detector.config import PipelineFile, build_model, load_pipeline_file, load_profile
from detector.enrichers import (
    DEFAULT_RULES,
    GeoEnricher,
    Inventory,
    SensitivityEnricher,
    ServiceEnricher,
)
from detector.errors import ConfigError
from detector.parsers import CloudTrailParser, VaultAuditParser
from detector.pipeline import DeadLetterSink, Pipeline
from detector.sinks import Sink

__all__ = ["build_pipeline", "build_sinks", "load_pipeline"]


def build_pipeline(
    config: PipelineFile, deadletters: DeadLetterSink | None = None, partitions: int | None = None
) -> Pipeline:
    """Parser, enrichers and model as the pipeline file describes them.

    ``partitions`` overrides the number of population-model partitions: a streaming worker
    builds one pipeline per partition, each with one.
    """
    source = config.source
    if source.parser == "vault":
        parser = VaultAuditParser(pair_timeout=source.pair_timeout)
    else:
        parser = CloudTrailParser()
    enrichers: list = []
    geo = config.enrichers.geo
    if geo.enabled:
        enrichers.append(
            GeoEnricher.from_paths(
                str(config.resolve(geo.city_db)) if geo.city_db else None,
                str(config.resolve(geo.asn_db)) if geo.asn_db else None,
                geo.cache_size,
            )
        )
    inventory_path = config.enrichers.service.inventory
    inventory = Inventory.load(config.resolve(inventory_path)) if inventory_path else None
    if inventory is not None:
        enrichers.append(ServiceEnricher(inventory))
    sensitivity = config.enrichers.sensitivity
    rules = [(rule.pattern, rule.level) for rule in sensitivity.rules]
    if sensitivity.builtin_rules:
        rules += DEFAULT_RULES
    enrichers.append(SensitivityEnricher(rules, sensitivity.default, file=config.path))
    profile = load_profile(config.resolve(config.model.profile))
    thresholds = config.thresholds
    alert = profile.scoring.alert if thresholds.alert is None else thresholds.alert
    revoke = profile.scoring.revoke if thresholds.revoke is None else thresholds.revoke
    if alert > revoke:
        raise ConfigError(
            config.path,
            "thresholds.alert" if thresholds.alert is not None else "thresholds.revoke",
            f"the alert threshold ({alert}) must not exceed the revoke threshold ({revoke})",
        )
    model = build_model(
        profile,
        {
            "alert": thresholds.alert,
            "revoke": thresholds.revoke,
            "alert_budget_per_day": thresholds.alert_budget_per_day,
        },
        config.model.partitions if partitions is None else partitions,
    )
    pipeline = Pipeline(
        config.name,
        parser,
        enrichers,
        model,
        deadletters,
        raw_bytes=config.outputs.deadletter_raw_bytes,
    )
    from detector import actions

    pipeline.suppressions = actions.build_suppressions(config)  # Benign clicks (issue #4)
    return pipeline


def load_pipeline(
    path: Path, deadletters: DeadLetterSink | None = None
) -> tuple[PipelineFile, Pipeline]:
    """Read a pipeline file and build its pipeline (``ConfigError`` on any fault)."""
    config = load_pipeline_file(path)
    return config, build_pipeline(config, deadletters)


def build_sinks(config: PipelineFile, out_dir: Path) -> list[Sink]:
    """The outputs beyond alerts.jsonl that the pipeline file turns on (store, responder)."""
    from detector import actions, store

    sinks = [store.build_sink(config, out_dir), actions.build_sink(config, out_dir)]
    return [sink for sink in sinks if sink is not None]
