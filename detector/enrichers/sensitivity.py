"""How much a secret matters, from its path.

The resource detector weighs "first read of a path never read before" by what the path
holds: a new cubbyhole entry is noise, a first ``transit/decrypt`` of the payments key or a
``sys/generate-root`` is the alert. Sensitivity is a level per path glob, written by the
people who know the secrets, with :data:`DEFAULT_RULES` as a reasonable start for Vault and
AWS.

**The first matching rule wins**, in list order, like a firewall: put narrow exceptions
before the broad rules they carve out of (``cubbyhole/*`` low before ``*prod*`` high).
All globs are compiled into one regular expression, so the number of rules barely changes
the cost of a lookup, and every answer is cached per path.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from detector.errors import ConfigError
from detector.event import EnrichedEvent, Sensitivity

__all__ = [
    "DEFAULT_RULES",
    "LEVELS",
    "SensitivityEnricher",
    "SensitivityRule",
]

#: Sensitivity levels and their weights in [0, 1]. The weights are what detectors multiply
#: surprise by; "medium" (an ordinary application secret) is the unremarkable middle.
LEVELS: Mapping[str, float] = MappingProxyType(
    {"low": 0.25, "medium": 0.5, "high": 0.8, "critical": 1.0}
)


class SensitivityRule(NamedTuple):
    """A glob on the resource path (:mod:`fnmatch` syntax; ``*`` also crosses ``/``) and
    the level of the paths it matches. Matching ignores case: people write ``Prod/Billing``
    as often as ``prod/billing``."""

    pattern: str
    level: str


def _rules(*pairs: tuple[str, str]) -> list[SensitivityRule]:
    return [SensitivityRule(pattern, level) for pattern, level in pairs]


#: Rules that make sense for Vault/OpenBao and AWS paths out of the box. Order matters
#: (first match wins): control-plane takeovers, then exceptions that are never
#: sensitive, then what is sensitive by name, then by engine.
DEFAULT_RULES: list[SensitivityRule] = _rules(
    # Vault control plane: whoever does these owns the cluster or blinds its audit.
    ("sys/generate-root*", "critical"),
    ("sys/generate-recovery-token*", "critical"),
    ("sys/rekey*", "critical"),
    ("sys/rotate*", "critical"),
    ("sys/audit*", "critical"),
    ("sys/raw*", "critical"),
    ("sys/seal", "critical"),
    ("sys/plugins/catalog/*", "critical"),
    ("sys/policy/*", "high"),
    ("sys/policies/*", "high"),
    ("sys/auth/*", "high"),
    ("sys/mounts/*", "high"),
    ("sys/namespaces/*", "high"),
    ("sys/replication/*", "high"),
    ("sys/storage/*", "high"),
    ("sys/config/*", "high"),
    ("sys/leases/revoke-prefix/*", "high"),
    ("sys/leases/revoke-force/*", "high"),
    ("auth/token/create-orphan*", "high"),
    ("auth/token/roles/*", "high"),
    ("identity/oidc/token/*", "medium"),
    ("identity/*", "high"),
    ("auth/*/role/*", "high"),
    ("auth/*/config*", "high"),
    ("auth/*/users/*", "high"),
    # Never sensitive: a token's own scratch space, self-service calls, logging in,
    # Vault's routine housekeeping.
    ("cubbyhole/*", "low"),
    ("auth/token/*-self", "low"),
    ("auth/*/login*", "low"),
    ("sys/*", "low"),
    # Key material that unlocks everything encrypted with it.
    ("transit/export/*", "critical"),
    ("transit/backup/*", "critical"),
    ("pki*/root", "critical"),
    ("pki*/root/*", "critical"),
    ("pki*/intermediate/*", "high"),
    ("transit/decrypt/*", "high"),
    ("transit/rewrap/*", "high"),
    ("transit/keys/*", "high"),
    # Sensitive by name, in any engine or cloud.
    ("*billing*", "high"),
    ("*payment*", "high"),
    ("*prod", "high"),
    ("*prod[!u]*", "high"),  # prod/, prod-, prod_ ... but not "product"
    ("*production*", "high"),
    # Engines that mint credentials for other systems.
    ("aws/creds/*", "high"),
    ("aws/sts/*", "high"),
    ("gcp/*/key/*", "high"),
    ("azure/creds/*", "high"),
    ("database/creds/*", "medium"),
    ("ssh/sign/*", "medium"),
    ("ssh/creds/*", "medium"),
    ("pki*/issue/*", "medium"),
    ("pki*/sign/*", "medium"),
    # AWS resources.
    ("arn:aws*:iam::*", "high"),
    ("arn:aws*:kms:*", "medium"),
    ("arn:aws*:secretsmanager:*", "medium"),
    ("arn:aws*:ssm:*:parameter/*", "medium"),
)


class SensitivityEnricher:
    """Set ``event.sensitivity`` from the event's resource path.

    Parameters
    ----------
    rules
        ``(pattern, level)`` pairs; the first whose glob matches the path decides.
    default
        The level of a path no rule matches.
    cache_size
        How many distinct paths to remember; when full the oldest entry is dropped.
    file
        Where the rules come from, for the :class:`ConfigError` a bad level raises.

    Raises
    ------
    ConfigError
        A level is not one of :data:`LEVELS`; the key is ``rules[i].level`` or
        ``default``.

    Examples
    --------
    >>> enricher = SensitivityEnricher([("cubbyhole/*", "low"), ("*prod*", "high")])
    >>> enricher.level_of("secret/data/prod/cart")
    Sensitivity(level='high', weight=0.8)
    >>> enricher.level_of("secret/data/dev/cart").level
    'medium'
    """

    def __init__(
        self,
        rules: Iterable[SensitivityRule | tuple[str, str]] = DEFAULT_RULES,
        default: str = "medium",
        cache_size: int = 65536,
        *,
        file: str = "<sensitivity rules>",
    ) -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        self.rules = [SensitivityRule(*rule) for rule in rules]
        self.default = default
        self.cache_size = cache_size
        self.file = file
        # One shared, immutable Sensitivity per level: cached answers cost no allocation.
        self._levels = {name: Sensitivity(name, weight) for name, weight in LEVELS.items()}
        for i, rule in enumerate(self.rules):
            if not isinstance(rule.pattern, str):
                raise ConfigError(file, f"rules[{i}].pattern", f"not a string: {rule.pattern!r}")
            if rule.level not in LEVELS:
                raise ConfigError(file, f"rules[{i}].level", _unknown_level(rule.level))
        if default not in LEVELS:
            raise ConfigError(file, "default", _unknown_level(default))
        self._default = self._levels[default]
        self._answers = [self._levels[rule.level] for rule in self.rules]
        # One alternation, one named group per rule, tried left to right: the regex
        # engine's own ordering is what makes the first matching rule win.
        self._matcher = (
            re.compile(
                "|".join(
                    f"(?P<r{i}>{fnmatch.translate(rule.pattern)})"
                    for i, rule in enumerate(self.rules)
                ),
                re.IGNORECASE,
            )
            if self.rules
            else None
        )
        self._cache: dict[str, Sensitivity] = {}

    def __repr__(self) -> str:
        return (
            f"SensitivityEnricher(<{len(self.rules)} rules>, default={self.default!r}, "
            f"cache_size={self.cache_size})"
        )

    def enrich(self, event: EnrichedEvent) -> None:
        """Set ``event.sensitivity`` unless an earlier enricher already did.

        A batch call (several resources) is as sensitive as its most sensitive resource.
        """
        if event.sensitivity is None:
            e = event.event
            cache = self._cache
            if e.resources:
                best: Sensitivity | None = None
                for path in e.resources:
                    found = cache.get(path) or self.level_of(path)
                    if best is None or found.weight > best.weight:
                        best = found
                event.sensitivity = best
            else:
                path = e.resource
                found = cache.get(path)
                event.sensitivity = found if found is not None else self.level_of(path)

    def level_of(self, path: str) -> Sensitivity:
        """The sensitivity of one resource path (cached)."""
        cache = self._cache
        found = cache.get(path)
        if found is None:
            found = self._match(path)
            if self.cache_size:
                if len(cache) >= self.cache_size:
                    del cache[next(iter(cache))]
                cache[path] = found
        return found

    def rule_for(self, path: str) -> SensitivityRule | None:
        """The rule that decides ``path``, or ``None`` when the default applies.

        For explaining a level to an analyst, and for testing rule lists.
        """
        index = self._index(path)
        return None if index is None else self.rules[index]

    def _match(self, path: str) -> Sensitivity:
        index = self._index(path)
        return self._default if index is None else self._answers[index]

    def _index(self, path: str) -> int | None:
        if self._matcher is None:
            return None
        m = self._matcher.match(path)
        if m is None:
            return None
        # The rule's own group closes last, so it is ``lastgroup`` even if a pattern
        # brought groups of its own.
        assert m.lastgroup is not None
        return int(m.lastgroup[1:])


def _unknown_level(level: object) -> str:
    return f"not one of {', '.join(LEVELS)}: {level!r}"
