"""Keeping credentials out of everything the detector writes.

Vault's audit device already hashes tokens and secret values, but a malformed line, a
device with ``log_raw`` on or a hand-written log may still carry one; whatever the
detector copies from raw input into its own outputs passes through :func:`redact`.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

_SECRETS = re.compile(
    r"\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}"  # Vault/OpenBao service, batch, recovery tokens
    r"|(?<=[\"'\s:=])[A-Za-z0-9/+]{40}(?=[\"'\s,}])"  # a 40-character AWS secret access key
)


def redact(text: str) -> str:
    """Replace token- and key-shaped strings with ``<redacted>``.

    >>> redact('{"client_token": "hvs.CAESIJ1n2fakeTokenValue1234567890"}')
    '{"client_token": "<redacted>"}'
    """
    return _SECRETS.sub("<redacted>", text)
