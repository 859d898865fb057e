"""Parsers: raw audit records in, normalized :class:`~detector.event.AccessEvent` out."""

from __future__ import annotations

from detector.parsers.base import Ignored, Notice, Parser, ParserOutputs, Rejected
from detector.parsers.cloudtrail import CloudTrailParser
from detector.parsers.vault import VaultAuditParser

__all__ = [
    "PARSERS",
    "CloudTrailParser",
    "Ignored",
    "Notice",
    "Parser",
    "ParserOutputs",
    "Rejected",
    "VaultAuditParser",
]

#: name used in pipeline files -> parser class
PARSERS: dict[str, type] = {"vault": VaultAuditParser, "cloudtrail": CloudTrailParser}
