"""Enrichers: what the detectors need to know about an event that its log line does not say.

Each enricher fills its own slots of an :class:`~detector.event.EnrichedEvent` and never
overwrites a slot that is already set, so they compose in any order and a caller (a test,
a replay with precomputed geo) can pre-fill a slot to override it:

- :class:`GeoEnricher` — where the client address is (``geo``);
- :class:`ServiceEnricher` — which service the identity and the address belong to
  (``service``, ``network_owner``), from an :class:`Inventory`;
- :class:`SensitivityEnricher` — how much the secret matters (``sensitivity``).

They run once per audit line, so each caches its answers per key (address, identity,
path): logs repeat the same few values, and a cached answer is one dict lookup.
"""

from __future__ import annotations

from detector.enrichers.geo import GeoEnricher
from detector.enrichers.sensitivity import DEFAULT_RULES, SensitivityEnricher, SensitivityRule
from detector.enrichers.service import Inventory, ServiceEnricher

__all__ = [
    "DEFAULT_RULES",
    "GeoEnricher",
    "Inventory",
    "SensitivityEnricher",
    "SensitivityRule",
    "ServiceEnricher",
]
