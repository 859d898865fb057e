"""Configuration files: pipelines (``pipelines/*.toml``) and model profiles
(``models/*.toml``), validated at start with errors that name the file and the key."""

from __future__ import annotations

from detector.config.loading import parse_duration
from detector.config.pipeline_file import PipelineFile, load_pipeline_file
from detector.config.profile import ModelProfile, build_model, load_profile

__all__ = [
    "ModelProfile",
    "PipelineFile",
    "build_model",
    "load_pipeline_file",
    "load_profile",
    "parse_duration",
]
