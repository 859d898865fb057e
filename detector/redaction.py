"""Keeping credentials and secret values out of everything the detector writes.

Vault's audit device already hashes tokens and secret values, but a device with
``log_raw`` on, a malformed line or a hand-written log may still carry them in the clear;
whatever the detector copies from raw input into its own outputs (the dead letters) passes
through :func:`redact`. Two passes:

1. token- and key-shaped strings, wherever they stand (Vault tokens, AWS secret keys);
2. in JSON, even truncated, every string value under a key that holds secrets (``data`` of a
   request or response, ``client_token``, ``secret_id``, ``password`` …), unless Vault
   already hashed it (``hmac-sha256:…``) or it is a time stamp.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

REDACTED = "<redacted>"

_SECRETS = re.compile(
    r"\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}"  # Vault/OpenBao service, batch, recovery tokens
    r"|(?<=[\"'\s:=])[A-Za-z0-9/+]{40}(?=[\"'\s,}])"  # a 40-character AWS secret access key
)

#: keys whose values (and everything inside them) are secret in Vault and CloudTrail records
SECRET_KEYS = frozenset(
    {
        "data",
        "client_token",
        "token",
        "secret_id",
        "password",
        "secret",
        "private_key",
        "plaintext",
        "secretstring",
        "secretbinary",
    }
)

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*(?:"|$)|[{}\[\]:,]', re.DOTALL)
_COLON = re.compile(r"\s*:")
_HASHED = "hmac-sha256:"
#: Vault writes the times in a secret's metadata in the clear: times, not secrets
_TIME = re.compile(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\dZ+:-]*"$')


def redact(text: str) -> str:
    """Replace token- and key-shaped strings and the values of secret keys with
    ``<redacted>``.

    >>> redact('{"client_token": "hvs.CAESIJ1n2fakeTokenValue1234567890"}')
    '{"client_token": "<redacted>"}'
    >>> redact('{"path": "kv/app", "data": {"password": "hunter2", "n": ["a"]}, "x": "y"}')
    '{"path": "kv/app", "data": {"password": "<redacted>", "n": ["<redacted>"]}, "x": "y"}'
    """
    return _redact_secret_values(_SECRETS.sub(REDACTED, text))


def _redact_secret_values(text: str) -> str:
    """The JSON pass: a small scanner over string tokens and brackets, so a truncated or
    otherwise invalid record is redacted as far as it goes."""
    if '"' not in text:
        return text
    parts: list[str] = []
    end = 0
    stack: list[bool] = []  # per open container: is everything in it secret?
    key: str | None = None  # the key whose value comes next, if any
    for match in _TOKEN.finditer(text):
        token = match.group()
        secret_here = stack[-1] if stack else False
        if token in ("{", "["):
            stack.append(secret_here or _is_secret(key))
            key = None
        elif token in ("}", "]"):
            if stack:
                stack.pop()
            key = None
        elif token in (":", ","):
            pass
        elif _COLON.match(text, match.end()):
            key = token.strip('"')
        else:
            if (secret_here or _is_secret(key)) and not _kept(token):
                closed = len(token) > 1 and token.endswith('"')
                parts.append(text[end : match.start()])
                parts.append(f'"{REDACTED}"' if closed else f'"{REDACTED}')
                end = match.end()
            key = None
    parts.append(text[end:])
    return "".join(parts)


def _kept(token: str) -> bool:
    """A value Vault already hashed, or a time stamp."""
    return token[1:].startswith(_HASHED) or _TIME.match(token) is not None


def _is_secret(key: str | None) -> bool:
    return key is not None and key.lower() in SECRET_KEYS
