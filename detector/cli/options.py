"""Arguments several sub-commands share."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["pipeline_argument"]

#: the pipeline file a command runs (``pipelines/*.toml``)
pipeline_argument = click.argument(
    "pipeline_file", metavar="PIPELINE", type=click.Path(dir_okay=False, path_type=Path)
)
