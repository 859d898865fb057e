"""The secrets the simulated Vault holds, with their version history.

A KV read response shows the HMAC of each field and the version's metadata; the same
version always shows the same HMACs, a rotation changes them. The store keeps, per
secret, the event times its versions were written, so a read at any time shows the
version current then, whichever actor planned the write (rotation job, a person's
``kv put``) and in whatever order the actors were planned.
"""

from __future__ import annotations

import random
from bisect import bisect_right, insort
from collections.abc import Iterable, Mapping

import orjson

from detector.simulate.identifiers import Hasher
from detector.simulate.timekeeping import DAY, rfc3339_nano

__all__ = ["SecretStore"]


class SecretStore:
    """KV v2 (``secret/``) and KV v1 (``kv-legacy/``) secrets by logical path.

    Parameters
    ----------
    hasher
        The audit device's HMAC.
    rng
        Draws the history the secrets had before the simulation starts.
    start
        Event time the simulation starts; earlier versions are dated before it.
    kv2, kv1
        Logical path (``shop/cart/db``) -> field names, per engine.
    unborn
        Paths that do not exist yet: someone writes their first version during the run.
    """

    def __init__(
        self,
        hasher: Hasher,
        rng: random.Random,
        start: int,
        kv2: Mapping[str, tuple[str, ...]],
        kv1: Mapping[str, tuple[str, ...]],
        unborn: Iterable[str] = (),
    ) -> None:
        self.hasher = hasher
        self.fields = {"secret": dict(kv2), "kv-legacy": dict(kv1)}
        self._history: dict[tuple[str, str], list[int]] = {}
        skip = set(unborn)
        for engine, secrets in self.fields.items():
            for path in sorted(secrets):
                if path in skip:
                    self._history[(engine, path)] = []
                    continue
                first = start - rng.randint(30, 700) * DAY - rng.randrange(DAY)
                versions = [first]
                for _ in range(rng.randint(0, 5) if engine == "secret" else 0):
                    versions.append(rng.randint(versions[-1], start - DAY))
                self._history[(engine, path)] = sorted(versions)
        self._bodies: dict[tuple[str, str, int], orjson.Fragment] = {}
        self._deleted = hasher("")

    # -- history --------------------------------------------------------------------------

    def write(self, engine: str, path: str, t: int) -> None:
        """Record that a new version of ``path`` was written at ``t``."""
        insort(self._history.setdefault((engine, path), []), t)
        self.fields[engine].setdefault(path, ("value",))

    def version_at(self, engine: str, path: str, t: int) -> tuple[int, int]:
        """(version number, its creation time) current at ``t``; (0, 0) if none yet."""
        times = self._history.get((engine, path))
        if not times:
            return 0, 0
        n = bisect_right(times, t)
        return (n, times[n - 1]) if n else (0, 0)

    def paths(self, engine: str, prefix: str = "") -> list[str]:
        """Logical paths of an engine under ``prefix``, sorted."""
        return sorted(p for p in self.fields[engine] if p.startswith(prefix))

    # -- response bodies ------------------------------------------------------------------

    def _values(self, engine: str, path: str, version: int) -> dict[str, str]:
        h = self.hasher
        return {f: h(f"{engine}/{path}#{f}#{version}") for f in self.fields[engine][path]}

    def kv2_read(self, path: str, t: int) -> orjson.Fragment | None:
        """The ``data`` of a KV v2 read (fields and version metadata), ``None`` if absent."""
        version, created = self.version_at("secret", path, t)
        if not version:
            return None
        key = ("secret", path, version)
        body = self._bodies.get(key)
        if body is None:
            body = orjson.Fragment(
                orjson.dumps(
                    {
                        "data": self._values("secret", path, version),
                        "metadata": {
                            "created_time": rfc3339_nano(created),
                            "custom_metadata": None,
                            "deletion_time": self._deleted,
                            "destroyed": False,
                            "version": version,
                        },
                    }
                )
            )
            self._bodies[key] = body
        return body

    def kv2_written(self, path: str, t: int) -> dict[str, object]:
        """The ``data`` of a KV v2 write response: the new version's metadata."""
        version, created = self.version_at("secret", path, t)
        return {
            "created_time": rfc3339_nano(created),
            "custom_metadata": None,
            "deletion_time": self._deleted,
            "destroyed": False,
            "version": version,
        }

    def kv2_metadata(self, path: str, t: int) -> dict[str, object] | None:
        """The ``data`` of a read of ``secret/metadata/<path>``."""
        version, updated = self.version_at("secret", path, t)
        if not version:
            return None
        first = self._history[("secret", path)][0]
        return {
            "cas_required": False,
            "created_time": rfc3339_nano(first),
            "current_version": version,
            "custom_metadata": None,
            "delete_version_after": self.hasher("0s"),
            "max_versions": 0,
            "oldest_version": 0,
            "updated_time": rfc3339_nano(updated),
        }

    def kv1_read(self, path: str, t: int) -> orjson.Fragment | None:
        """The ``data`` of a KV v1 read, ``None`` if absent."""
        version, _ = self.version_at("kv-legacy", path, t)
        if not version:
            return None
        key = ("kv-legacy", path, version)
        body = self._bodies.get(key)
        if body is None:
            body = orjson.Fragment(orjson.dumps(self._values("kv-legacy", path, version)))
            self._bodies[key] = body
        return body

    def list_keys(self, engine: str, prefix: str, t: int) -> dict[str, list[str]] | None:
        """The ``data`` of a LIST: the children of ``prefix`` that exist at ``t``."""
        children: set[str] = set()
        for (eng, path), times in self._history.items():
            if eng == engine and path.startswith(prefix) and times and times[0] <= t:
                head, slash, _ = path[len(prefix) :].partition("/")
                children.add(head + slash)
        if not children:
            return None
        return {"keys": [self.hasher(k) for k in sorted(children)]}
