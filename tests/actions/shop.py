"""A small shop inside a real OpenBao, and the traffic of its services and of a thief.

Used by the response tests and ``bench/revocation_latency.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import hvac
import hvac.exceptions

from actions.openbao import OpenBao, close

__all__ = ["Session", "Shop"]

REPO = Path(__file__).resolve().parents[2]
THIEF_ADDRESS = "188.166.26.216"  # Amsterdam, NL in the embedded GeoLite2 database
SERVICES = {
    # service: (home address, policy, secrets it reads normally, secrets a thief wants)
    "cart": ("10.1.0.5", "secret/data/shop/*", "shop/cart", "shop/frontend"),
    "billing": ("10.2.0.7", "secret/data/payments/*", "payments/billing", "payments/ledger"),
}


@dataclass
class Session:
    """One AppRole login of a service: its token (never logged), accessor and client."""

    service: str
    token: str
    accessor: str
    client: hvac.Client

    def read(self, path: str) -> None:
        self.client.secrets.kv.v2.read_secret_version(path=path, raise_on_deleted_version=True)


class Shop:
    """The shop's OpenBao set-up: AppRoles, policies, secrets, the detector's token."""

    INVENTORY = """
[[service]]
name = "cart"
team = "shop"
environment = "prod"
auto_revoke = true
[service.match]
role_names = ["cart"]
cidrs = ["10.1.0.0/24"]
namespaces = ["secret/data/shop/cart/*"]

[[service]]
name = "billing"
team = "payments"
environment = "prod"
criticality = "critical"
auto_revoke = false
[service.match]
role_names = ["billing"]
cidrs = ["10.2.0.0/24"]
namespaces = ["secret/data/payments/billing/*"]
"""

    def __init__(self, bao: OpenBao) -> None:
        self.bao = bao
        self.root = bao.root()
        self.detector_token = ""
        self._clients: list[hvac.Client] = []

    def set_up(self) -> None:
        root = self.root
        root.sys.enable_auth_method("approle")
        if "secret/" not in root.sys.list_mounted_secrets_engines()["data"]:
            root.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
        # The client detector reads the user agent: audit it in the clear.
        root.write("sys/config/auditing/request-headers/user-agent", hmac=False)
        for service, (_, policy, normal, wanted) in SERVICES.items():
            root.sys.create_or_update_policy(
                service, f'path "{policy}" {{ capabilities = ["read"] }}'
            )
            for i in range(5):
                for folder in (normal, wanted):
                    root.secrets.kv.v2.create_or_update_secret(
                        path=f"{folder}/s{i}", secret={"value": f"{folder}-{i}"}
                    )
            root.auth.approle.create_or_update_approle(
                service, token_policies=[service], token_ttl="1h"
            )
        policy = (REPO / "policies" / "detector.hcl").read_text()
        root.sys.create_or_update_policy("secret-access-detector", policy)
        answer = root.auth.token.create(
            policies=["secret-access-detector"], no_default_policy=True, ttl="1h"
        )
        self.detector_token = answer["auth"]["client_token"]

    def client(self, token: str | None = None, from_address: str | None = None, agent: str = ""):
        client = self.bao.client(token, from_address)
        if agent:
            client.session.headers["User-Agent"] = agent
        self._clients.append(client)
        return client

    def login(self, service: str) -> Session:
        """The service logs in from its own host."""
        address = SERVICES[service][0]
        client = self.client(from_address=address, agent=f"{service}/1.4 python-hvac")
        role_id = self.root.auth.approle.read_role_id(service)["data"]["role_id"]
        secret_id = self.root.auth.approle.generate_secret_id(service)["data"]["secret_id"]
        auth = client.auth.approle.login(role_id, secret_id)["auth"]
        return Session(service, auth["client_token"], auth["accessor"], client)

    def normal_use(self, session: Session, requests: int) -> None:
        """The service reads its own secrets, as every day."""
        folder = SERVICES[session.service][2]
        for i in range(requests):
            session.read(f"{folder}/s{i % 5}")

    def thief(self, session: Session) -> Session:
        """Someone with a copy of the service's token, abroad, with curl."""
        client = self.client(session.token, THIEF_ADDRESS, agent="curl/8.5.0")
        return Session(session.service, session.token, session.accessor, client)

    def steal(self, session: Session, reads: int = 1) -> None:
        """The thief reads secrets the service never touches (its policy allows them);
        the service keeps working from its own host in between."""
        thief = self.thief(session)
        wanted = SERVICES[session.service][3]
        for i in range(reads):
            thief.read(f"{wanted}/s{i % 5}")
            self.normal_use(session, 1)

    def refused(self, session: Session) -> bool:
        """Whether OpenBao now answers the token with 403 (revoked)."""
        probe = self.client(session.token, SERVICES[session.service][0])
        try:
            probe.secrets.kv.v2.read_secret_version(
                path=f"{SERVICES[session.service][2]}/s0", raise_on_deleted_version=True
            )
        except hvac.exceptions.Forbidden:
            return True
        return False

    def alive(self, accessor: str) -> bool:
        """Whether the token behind ``accessor`` still exists (asked as root)."""
        try:
            self.root.auth.token.lookup_accessor(accessor)
        except hvac.exceptions.InvalidRequest:
            return False
        return True

    def close(self) -> None:
        for client in [*self._clients, self.root]:
            close(client)
        self._clients.clear()
