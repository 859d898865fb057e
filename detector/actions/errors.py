"""What can go wrong when the detector acts, in one tree (under ``DetectorError``)::

DetectorError
└── ActionError             an action could not be carried out
    ├── VaultUnavailable    unreachable, timed out, sealed or 5xx: queued and retried
    ├── VaultForbidden      403: the detector's token lacks the right; reported, not retried
    ├── CredentialGone      Vault no longer knows the accessor or lease (expired, revoked)
    ├── VaultRejected       any other refusal (a malformed request): not retried
    └── SlackUnavailable    Slack unreachable, rate limited or 5xx: the outbox retries
"""

from __future__ import annotations

from detector.errors import DetectorError

__all__ = [
    "ActionError",
    "CredentialGone",
    "SlackUnavailable",
    "VaultForbidden",
    "VaultRejected",
    "VaultUnavailable",
]


class ActionError(DetectorError):
    """An action on production (a revocation, a Slack message) did not happen."""


class VaultUnavailable(ActionError):
    """Vault could not answer now; the same request is worth retrying later."""


class VaultForbidden(ActionError):
    """Vault answered 403: retrying will not help until someone fixes the policy."""


class CredentialGone(ActionError):
    """The accessor or lease is unknown to Vault: there is nothing left to revoke."""


class VaultRejected(ActionError):
    """Vault refused the request for a reason retrying will not change."""


class SlackUnavailable(ActionError):
    """Slack could not take the message now; ``retry_after`` is Slack's own wish, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
