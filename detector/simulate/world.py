"""The simulated Vault server and what every actor shares: mounts, policies, secrets.

Each actor draws from its own generator, seeded from the run's seed and the actor's
name: the actors are independent, so the benign traffic is the same bytes whether the
attacks are injected or not, and adding an actor does not reshuffle the others.
"""

from __future__ import annotations

import hashlib
import random

from detector.simulate.identifiers import Hasher, uuid_like
from detector.simulate.mounts import MountTable
from detector.simulate.organisation import KV1_SECRETS, KV2_SECRETS, POLICIES, UNBORN_SECRETS
from detector.simulate.policies import PolicyBook
from detector.simulate.secret_store import SecretStore
from detector.simulate.timekeeping import LocalClock

__all__ = ["World"]


class World:
    """Shared state of one simulation run.

    Parameters
    ----------
    seed
        The run's seed; every generator derives from it.
    start, end
        Event time (ns) the log starts and ends.
    scale
        Load multiplier for services and pipelines (people do not multiply).
    """

    def __init__(self, seed: int, start: int, end: int, scale: float) -> None:
        self.seed = seed
        self.start = start
        self.end = end
        self.scale = scale
        self.hasher = Hasher(hashlib.sha256(f"audit-salt/{seed}".encode()).digest())
        self.mounts = MountTable(self.rng("mounts"))
        self.policies = PolicyBook(POLICIES)
        self.store = SecretStore(
            self.hasher, self.rng("secrets"), start, KV2_SECRETS, KV1_SECRETS, UNBORN_SECRETS
        )
        self._entities: dict[str, str] = {}
        self._headers: dict[str, dict[str, list[str]]] = {}
        self._local_hours: dict[tuple[str, int], tuple[int, int]] = {}

    def rng(self, name: str) -> random.Random:
        """The generator of one actor or concern, independent of all others."""
        return random.Random(f"{self.seed}/{name}")

    def entity_id(self, name: str) -> str:
        """The Vault entity id of a named identity (stable for the seed)."""
        entity = self._entities.get(name)
        if entity is None:
            entity = uuid_like(self.rng(f"entity/{name}"))
            self._entities[name] = entity
        return entity

    def local_hour(self, clock: LocalClock, slot: int) -> tuple[int, int]:
        """(local hour, weekday) at the hour starting at ``slot`` (shared by all hosts)."""
        key = (clock.zone, slot)
        answer = self._local_hours.get(key)
        if answer is None:
            answer = (int(clock.hour_of(slot)), clock.weekday_of(slot))
            self._local_hours[key] = answer
        return answer

    def headers(self, user_agent: str | None) -> dict[str, list[str]] | None:
        """The audited request headers for a user agent (one shared object per agent)."""
        if user_agent is None:
            return None
        headers = self._headers.get(user_agent)
        if headers is None:
            headers = {"user-agent": [user_agent]}
            self._headers[user_agent] = headers
        return headers
