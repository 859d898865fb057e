"""The opaque strings Vault writes: request ids, accessors, entity ids and HMACs.

All are drawn from the simulation's seeded generators, so a seed reproduces them.
Secret values never exist: Vault's audit device writes ``hmac-sha256:<hex>`` of every
string in request and response data, and so does the simulator, from a salt derived from
the seed. The same value always gives the same HMAC (a secret read twice shows the same
hash until it is rotated), as with a real audit device.
"""

from __future__ import annotations

import hashlib
import random
import string

__all__ = ["HMAC_PREFIX", "Hasher", "accessor", "random_hmac", "request_id", "uuid_like"]

_ALPHANUMERIC = string.ascii_letters + string.digits
HMAC_PREFIX = "hmac-sha256:"


def uuid_like(rng: random.Random) -> str:
    """Vault's request and entity ids: 128 random bits as 8-4-4-4-12 hex digits."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


request_id = uuid_like


def accessor(rng: random.Random) -> str:
    """A token accessor: 24 base62 characters (``18IUmgAWwebRxFL8Vqk9eTw4``)."""
    return "".join(rng.choices(_ALPHANUMERIC, k=24))


def random_hmac(rng: random.Random) -> str:
    """The HMAC of a value nobody will see twice (a token, a ciphertext, a password)."""
    return f"{HMAC_PREFIX}{rng.getrandbits(256):064x}"


class Hasher:
    """The audit device's HMAC of a string value, with a salt of its own.

    >>> hmac = Hasher(b"salt")
    >>> hmac("s3cret") == hmac("s3cret") != hmac("other")
    True
    """

    def __init__(self, salt: bytes) -> None:
        self.salt = salt
        self._cache: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        digest = self._cache.get(value)
        if digest is None:
            digest = HMAC_PREFIX + hashlib.sha256(self.salt + value.encode()).hexdigest()
            if len(self._cache) < 200_000:
                self._cache[value] = digest
        return digest

    def structure(self, value: object) -> object:
        """HMAC every string inside a request or response body, as Vault does.

        Numbers, booleans and ``None`` are written as they are; keys are kept.
        """
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.structure(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.structure(v) for v in value]
        return value
