"""The simulated Vault's ACL policies: which token may do what, and which policy grants it.

Vault writes ``policy_results`` on every authenticated request: ``allowed`` and, when
allowed, the policy that granted it. The simulator decides the same way, so a service
reading its own secrets is granted by its policy, a person exploring another team's
path is denied, and an attacker with a stolen token gets exactly what that token allows.

Paths follow Vault's policy syntax: an exact path, a trailing ``*`` for a prefix and
``+`` for one path segment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["PolicyBook", "capability_of"]

_CAPABILITY = {
    "read": "read",
    "list": "list",
    "create": "create",
    "update": "update",
    "delete": "delete",
    "patch": "patch",
}


def capability_of(operation: str) -> str:
    """The ACL capability a request operation needs."""
    return _CAPABILITY.get(operation, operation)


def _compile(pattern: str) -> re.Pattern[str]:
    body = re.escape(pattern.removesuffix("*")).replace(r"\+", "[^/]+")
    return re.compile(body + (".*" if pattern.endswith("*") else "") + r"\Z")


class PolicyBook:
    """Named policies, each a list of (path pattern, capabilities).

    >>> book = PolicyBook({"cart": [("secret/data/shop/cart/*", "read")]})
    >>> book.granting(("cart", "default"), "secret/data/shop/cart/db", "read")
    'cart'
    >>> book.granting(("cart", "default"), "secret/data/payments/db", "read") is None
    True
    """

    def __init__(self, policies: Mapping[str, Iterable[tuple[str, str]]]) -> None:
        self._rules: dict[str, list[tuple[re.Pattern[str], frozenset[str]]]] = {}
        for name, rules in policies.items():
            self.define(name, rules)
        self._answers: dict[tuple[tuple[str, ...], str, str], str | None] = {}

    def define(self, name: str, rules: Iterable[tuple[str, str]]) -> None:
        """Write (or overwrite) a policy; capabilities are a space-separated string."""
        self._rules[name] = [(_compile(p), frozenset(caps.split())) for p, caps in rules]
        self._answers = {}

    def granting(self, policies: tuple[str, ...], path: str, operation: str) -> str | None:
        """The first of ``policies`` that allows ``operation`` on ``path``, or ``None``."""
        key = (policies, path, operation)
        answer = self._answers.get(key, "")
        if answer == "":
            answer = self._decide(policies, path, capability_of(operation))
            if len(self._answers) < 500_000:
                self._answers[key] = answer
        return answer

    def _decide(self, policies: tuple[str, ...], path: str, capability: str) -> str | None:
        if "root" in policies:
            return "root"
        for name in policies:
            for pattern, caps in self._rules.get(name, ()):
                if capability in caps and pattern.match(path):
                    return name
        return None
