"""The ``[streaming]`` table of a pipeline file, with environment overrides.

Every key can be overridden by an environment variable ``DETECTOR_<KEY>`` (for example
``DETECTOR_BROKER=kafka://kafka-1:9092``), so one pipeline file serves every deployment.
Broker credentials never go in the file: ``DETECTOR_SASL_USERNAME`` and
``DETECTOR_SASL_PASSWORD`` (or ``..._FILE`` pointing at a file holding the value).
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

import msgspec

from detector.config.streaming import StreamingSection
from detector.errors import ConfigError

__all__ = [
    "StreamingSection",
    "bootstrap_servers",
    "broker_credentials",
    "client_security",
    "with_environment",
]


def with_environment(section: StreamingSection, path: str) -> StreamingSection:
    """The section with ``DETECTOR_<KEY>`` environment variables applied (and checked)."""
    values: dict[str, Any] = msgspec.structs.asdict(section)
    changed = False
    for name in values:
        override = os.environ.get(f"DETECTOR_{name.upper()}")
        if override is not None:
            values[name] = int(override) if isinstance(values[name], int) else override
            changed = True
    if not changed:
        return section
    try:
        return msgspec.convert(values, StreamingSection)
    except (msgspec.ValidationError, ValueError) as exc:
        raise ConfigError(path, "streaming (from the environment)", str(exc)) from None


def bootstrap_servers(broker: str) -> str:
    """``host:port,host:port`` for aiokafka from a Faust broker URL.

    >>> bootstrap_servers("kafka://b-1:9096;kafka://b-2:9096")
    'b-1:9096,b-2:9096'
    """
    hosts = (part.strip().split("://", 1)[-1] for part in broker.split(";"))
    return ",".join(host for host in hosts if host)


def _secret(name: str) -> str | None:
    value = os.environ.get(name)
    if value:
        return value
    file = os.environ.get(f"{name}_FILE")
    if file:
        from detector.actions.credentials import read_secret_file

        return read_secret_file(Path(file))  # warns when others may read it
    return None


def _ssl_context(section: StreamingSection) -> ssl.SSLContext | None:
    if section.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(cafile=section.ssl_cafile or None)
    if section.ssl_certfile:
        context.load_cert_chain(section.ssl_certfile, keyfile=section.ssl_keyfile or None)
    return context


def _sasl_login(section: StreamingSection) -> tuple[str, str]:
    username = _secret("DETECTOR_SASL_USERNAME")
    password = _secret("DETECTOR_SASL_PASSWORD")
    if not username or not password:
        raise ConfigError(
            "environment",
            "DETECTOR_SASL_USERNAME / DETECTOR_SASL_PASSWORD",
            f"required for security_protocol {section.security_protocol}",
        )
    return username, password


def broker_credentials(section: StreamingSection) -> Any:
    """Faust broker credentials from the section and the environment (``None``: none)."""
    import faust

    context = _ssl_context(section)
    if section.security_protocol.startswith("SASL"):
        username, password = _sasl_login(section)
        return faust.SASLCredentials(
            username=username,
            password=password,
            ssl_context=context,
            mechanism=section.sasl_mechanism,
        )
    return context


def client_security(section: StreamingSection) -> dict[str, Any]:
    """The same TLS / SASL settings as keyword arguments of an aiokafka producer or consumer."""
    options: dict[str, Any] = {"security_protocol": section.security_protocol}
    context = _ssl_context(section)
    if context is not None:
        options["ssl_context"] = context
    if section.security_protocol.startswith("SASL"):
        username, password = _sasl_login(section)
        options |= {
            "sasl_mechanism": section.sasl_mechanism,
            "sasl_plain_username": username,
            "sasl_plain_password": password,
        }
    return options
