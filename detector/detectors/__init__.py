"""Detectors: one signal each, in the style of River (``score_one`` / ``learn_one``).

Every detector here follows the contract in :mod:`detector.detectors.base`; the model
profile picks which run and how much each weighs.
"""

from __future__ import annotations

from detector.detectors.base import Detector, Finding
from detector.detectors.client import Client
from detector.detectors.lifecycle import Lifecycle
from detector.detectors.location import Location
from detector.detectors.multivariate import Multivariate
from detector.detectors.resource import Resource
from detector.detectors.time_of_week import TimeOfWeek
from detector.detectors.volume import Volume

__all__ = [
    "DETECTORS",
    "Client",
    "Detector",
    "Finding",
    "Lifecycle",
    "Location",
    "Multivariate",
    "Resource",
    "TimeOfWeek",
    "Volume",
]

#: name used in model profiles -> detector class
DETECTORS: dict[str, type] = {
    cls.name: cls
    for cls in (TimeOfWeek, Location, Client, Volume, Resource, Lifecycle, Multivariate)
}
