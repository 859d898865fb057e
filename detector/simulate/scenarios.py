"""The attacks: ten scenarios, each written the way a real attacker would work.

Attackers do not announce themselves: they copy the victim's user agent, pace their
reads, stay inside what the stolen token allows and start from ordinary networks. Each
scenario is injected after the first ~6 days (the identities have baselines by then)
and labels only the attacker's calls, failed attempts included; what the victims do at
the same time stays unlabelled.

A scenario has one or more steps at planned event times. The simulation calls a step
when it plans the window holding that time, after the benign actors: the scenario can
steal what they hold then (a host's current token, a pipeline run's token). A step that
needs something that has not happened yet (the victim's next session) returns ``None``
and is asked again with the next window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from detector.simulate.auth_methods import oidc_login, userpass_login
from detector.simulate.automation import CiRepository
from detector.simulate.calls import Call, Label
from detector.simulate.client import Client
from detector.simulate.networks import POOLS
from detector.simulate.people import Person
from detector.simulate.services import ServiceHost
from detector.simulate.timekeeping import DAY, HOUR, MINUTE, SECOND, LocalClock, iso_time
from detector.simulate.tokens import Token, TokenMint
from detector.simulate.world import World

__all__ = ["SCENARIOS", "Cast", "Scenario", "schedule"]


@dataclass
class Cast:
    """The benign actors a scenario may prey on."""

    people: dict[str, Person]
    services: dict[str, list[ServiceHost]]
    ci: dict[str, CiRepository]


class Scenario:
    """One injected attack instance.

    Subclasses set ``name`` and ``description`` and implement :meth:`step`.
    """

    name = ""
    description = ""

    def __init__(self, world: World, cast: Cast, when: list[int], number: int = 1) -> None:
        self.world = world
        self.cast = cast
        self.when = when
        self.rng = world.rng(f"scenario/{self.name}/{number}")
        self.mint = TokenMint(self.rng)
        self.label = Label(self.name, f"{self.name}-{number}")
        self.identity = ""
        self.identity_name = ""
        self.credential = ""
        self.sources: list[str] = []

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        """Calls of step ``index``, planned in the window ``[start, end)``; ``None``: later."""
        raise NotImplementedError

    @classmethod
    def timing(cls, world: World, first: float, last: float, days: float) -> list[int]:
        """When each step strikes: its ``_TIMING`` entries placed in the attack period.

        ``first`` and ``last`` are the period's bounds in days from the start of the run.
        """
        origin = LocalClock("UTC").date_of(world.start)
        when = []
        jitter = world.rng(f"schedule/{cls.name}")
        for fraction, zone, hour, workday in _TIMING[cls.name]:
            clock = LocalClock(zone)
            day = origin + timedelta(days=int(first + fraction * (last - first)))
            day = _working_day(day, origin, days) if workday else day
            t = clock.at(day, hour) + int(jitter.random() * 20 * MINUTE)
            if t < world.start + int(first * DAY):
                t = clock.at(day + timedelta(days=1), hour)
            when.append(t)
        return when

    def attacker(self, pool: str, user_agent: str, token: Token | None = None) -> Client:
        """A client at a fresh address of ``pool`` whose calls carry this instance's label."""
        return self.at(POOLS[pool].pick(self.rng), user_agent, token)

    def at(self, ip: str, user_agent: str, token: Token | None = None) -> Client:
        """A labelled client at a given address."""
        if ip not in self.sources:
            self.sources.append(ip)
        return Client(self.world, self.rng, ip, user_agent, token, self.label)

    def victim(self, token: Token) -> None:
        """Record the identity and credential the instance is about."""
        self.identity = token.entity_id or token.display_name
        self.identity_name = token.display_name
        self.credential = token.accessor

    def summary(self) -> dict[str, object]:
        """The instance as ``scenarios.json`` describes it."""
        label = self.label
        return {
            "name": self.name,
            "instance": label.instance,
            "description": self.description,
            "start": iso_time(label.first) if label.first is not None else None,
            "end": iso_time(label.last) if label.last is not None else None,
            "events": label.events,
            "identity": self.identity,
            "identity_name": self.identity_name,
            "credential": self.credential,
            "source_ips": self.sources,
        }

    def paced(
        self,
        client: Client,
        t: int,
        steps: list[tuple[str, str]],
        gap: tuple[float, float],
    ) -> tuple[list[Call], int]:
        """``steps`` (operation, path) one after the other, ``gap`` seconds apart."""
        calls = []
        lo, hi = gap
        for operation, path in steps:
            call = client.call(t, operation, path)
            calls.append(call)
            t = client.after(call, lo + (hi - lo) * self.rng.random())
        return calls, t


def _secret(path: str) -> tuple[str, str]:
    return ("read", f"secret/data/{path}")


class PasswordSpray(Scenario):
    """A spray, not a brute force: one password per account per round, rounds minutes apart,
    so no account sees enough failures in a row to be locked.
    """

    name = "password-spray"
    description = (
        "One hosting-provider address tries a few common passwords against fifteen userpass "
        "accounts for twenty minutes, gets into arjun's account and reads platform secrets."
    )
    _users = (
        "admin root vault test mia tobias jonas lena felix arjun divya ravi deploy jenkins ops"
    ).split()
    _passwords = ("Winter2026!", "Welcome1!", "Password123!", "Acme2026!")

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        rng, t = self.rng, self.when[0]
        client = self.attacker("vps-pula", "python-requests/2.31.0")
        calls: list[Call] = []
        arjun = self.cast.people["arjun"].spec
        for round_number, password in enumerate(self._passwords):
            if round_number:
                t += int((150 + 120 * rng.random()) * SECOND)  # stay under lockout thresholds
            users = list(self._users)
            rng.shuffle(users)
            last = round_number == len(self._passwords) - 1
            for user in users:
                success = last and user == "arjun"
                mint = self.mint if success else None
                call = userpass_login(client, mint, t, user, arjun.policies, 8 * 3600, password)
                calls.append(call)
                t = client.after(call, 2 + 6 * rng.random())
                if success:
                    break
        token = client.token
        assert token is not None
        self.victim(token)
        more, _ = self.paced(
            client,
            t + int(30 * rng.random() * SECOND),
            [
                ("read", "auth/token/lookup-self"),
                ("read", "sys/internal/ui/mounts"),
                ("read", "sys/mounts"),
                ("list", "secret/metadata/platform/"),
                ("list", "secret/metadata/platform/auth-gateway/"),
                _secret("platform/auth-gateway/jwt-signing-key"),
                _secret("platform/auth-gateway/oauth-client-secret"),
                _secret("platform/search/opensearch-admin"),
                ("list", "secret/metadata/platform/search/"),
                ("read", "database/creds/billing"),
            ],
            (4, 30),
        )
        return calls + more


class StolenServiceToken(Scenario):
    """The thief copies the agent's user agent and reads slowly, at the pace of a service;
    only where the calls come from, and which secrets, give the token away.
    """

    name = "stolen-service-token"
    description = (
        "The token of a cart host is stolen and used from a DigitalOcean address in Amsterdam, "
        "with cart's own user agent, to read cart's secrets and then other shop secrets, while "
        "the real host keeps using it from the data centre."
    )

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        t = self.when[0]
        host = self.cast.services["cart"][0]
        token = host.token_at(t)
        if token is None or token.expires - t < 2 * HOUR:
            token = host.token_at(t + HOUR)
            t += HOUR
        if token is None:
            return None
        self.victim(token)
        client = self.attacker("do-amsterdam", host.spec.user_agent, token)
        calls, _ = self.paced(
            client,
            t,
            [
                ("read", "auth/token/lookup-self"),
                _secret("shop/cart/db"),
                _secret("shop/cart/redis"),
                _secret("shop/cart/session-key"),
                _secret("shop/cart/stripe-webhook-secret"),
                ("read", "database/creds/cart"),
                ("list", "secret/metadata/shop/"),
                _secret("shop/inventory/db"),
                _secret("shop/inventory/s3-access"),
                _secret("shop/inventory/erp-credentials"),
                _secret("shop/frontend/cdn-signing-key"),
                _secret("shop/marketing/facebook-capi-token"),
                _secret("payments/billing/stripe-api-key"),
                _secret("payments/billing/db"),
                ("read", "kv-legacy/ops/smtp"),
                ("read", "database/creds/billing"),
                _secret("shop/cart/db"),
            ],
            (40, 220),
        )
        return calls


class BulkExfiltration(Scenario):
    """Smash and grab: the phished session is used at once, at night, to take everything the
    account can read before anyone notices.
    """

    name = "bulk-exfiltration"
    description = (
        "felix's phished password is used at night from a Nigerian mobile address to list the "
        "mounts and folders and read every shop secret within a few minutes."
    )

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        rng, t, store = self.rng, self.when[0], self.world.store
        felix = self.cast.people["felix"].spec
        client = self.attacker("ng-mobile", "Go-http-client/1.1")
        login = userpass_login(client, self.mint, t, "felix", felix.policies, 8 * 3600)
        assert client.token is not None
        self.victim(client.token)
        steps = [
            ("read", "auth/token/lookup-self"),
            ("read", "sys/internal/ui/mounts"),
            ("read", "sys/mounts"),
            ("list", "secret/metadata/"),
            ("list", "secret/metadata/shop/"),
        ]
        shop = store.paths("secret", "shop/")
        folders = sorted({p.rsplit("/", 1)[0] + "/" for p in shop})
        steps += [("list", f"secret/metadata/{f}") for f in folders]
        steps += [("list", "kv-legacy/shop/")]
        reads = [_secret(p) for p in shop]
        reads += [("read", f"kv-legacy/{p}") for p in store.paths("kv-legacy", "shop/")]
        reads += [("read", "database/creds/cart"), ("read", "database/creds/inventory")]
        reads += [_secret("payments/billing/db"), _secret("ci/deploy/kubeconfig-prod")]
        rng.shuffle(reads)
        calls, _ = self.paced(client, client.after(login, 1.5), steps + reads, (0.4, 4.0))
        return [login, *calls]


class CiTokenAbuse(Scenario):
    """A poisoned build step exfiltrates ``VAULT_TOKEN``; the token stays valid for its TTL
    after the run, and the CI policy is broader than what the pipeline reads.
    """

    name = "ci-token-abuse"
    description = (
        "The token of an acme/payments pipeline run, taken from the runner, is used after the "
        "run from a residential address in New Jersey to read production payment secrets the "
        "pipeline never reads."
    )

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        rng = self.rng
        ci = self.cast.ci["acme/payments"]
        since = max(self.when[0], start)
        runs = [r for r in ci.runs if r.start >= since and r.workflow != "nightly"]
        if not runs or runs[0].token is None:
            return None
        run = runs[0]
        token = run.token
        assert token is not None
        self.victim(token)
        t = run.end + int((12 + 10 * rng.random()) * MINUTE)
        client = self.attacker("nj-residential", "curl/8.5.0", token)
        calls, _ = self.paced(
            client,
            t,
            [
                ("read", "auth/token/lookup-self"),
                _secret("payments/billing/stripe-api-key"),
                _secret("payments/billing/card-vault-key"),
                _secret("payments/billing/db"),
                _secret("payments/payments-api/adyen-api-key"),
                _secret("payments/payments-api/hmac-secret"),
                ("read", "database/creds/payments-migrate"),
                ("read", "database/creds/billing"),
                _secret("ci/deploy/kubeconfig-prod"),
                _secret("payments/billing/pgp-signing-key"),
            ],
            (5, 40),
        )
        return calls


class OrphanTokenPersistence(Scenario):
    """Persistence: an orphan token survives the revocation of the admin's own token and
    outlives any password reset.
    """

    name = "orphan-token-persistence"
    description = (
        "Malware on ravi's laptop uses his admin session to create an orphan token valid for a "
        "year with the SRE admin policies; days later the token is used from an OVH server in "
        "France to read critical secrets across teams."
    )

    def __init__(self, world: World, cast: Cast, when: list[int], number: int = 1) -> None:
        super().__init__(world, cast, when, number)
        self.orphan: Token | None = None

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        if index == 0:
            return self._create(max(self.when[0], start))
        if self.orphan is None:
            return []
        client = self.attacker("ovh-roubaix", "Vault CLI/1.17", self.orphan)
        calls, _ = self.paced(
            client,
            self.when[1],
            [
                ("read", "auth/token/lookup-self"),
                ("list", "secret/metadata/"),
                ("list", "secret/metadata/payments/"),
                ("list", "secret/metadata/payments/billing/"),
                _secret("payments/billing/card-vault-key"),
                _secret("payments/billing/stripe-api-key"),
                _secret("platform/auth-gateway/jwt-signing-key"),
                _secret("sre/backup/gpg-key"),
                ("list", "sys/policies/acl"),
                ("read", "database/creds/billing"),
                ("read", "kv-legacy/ops/ldap-bind"),
                _secret("payments/payments-api/adyen-api-key"),
            ],
            (20, 140),
        )
        return calls

    def _create(self, since: int) -> list[Call] | None:
        ravi = self.cast.people["ravi"]
        sessions = [
            s
            for s in ravi.sessions
            if s.start >= since and s.token is not None and s.place != "admin"
        ]
        if not sessions:
            return None
        session = sessions[0]
        token = session.token
        assert token is not None
        t = session.start + int((2 + 5 * self.rng.random()) * MINUTE)
        if not token.valid_at(t + HOUR):
            return None
        h = self.world.hasher
        client = self.at(session.ip, "curl/8.4.0", token)
        orphan = self.mint.issue(
            "token-monitoring-exporter",
            token.policies,
            t,
            365 * 24 * 3600,
            entity_id=token.entity_id,
            orphan=True,
        )
        data = {
            "display_name": h("monitoring-exporter"),
            "policies": [h(p) for p in token.policies if p != "default"],
            "renewable": True,
            "ttl": h("8760h"),
        }
        create = client.issue(t, "auth/token/create-orphan", data, orphan)
        self.orphan = orphan
        self.identity = token.entity_id or token.display_name
        self.identity_name = token.display_name
        self.credential = orphan.accessor
        test = client.call(
            client.after(create, 2.0), "read", "auth/token/lookup-self", token=orphan
        )
        return [create, test]


class RootTokenUse(Scenario):
    """The initial root token should have been revoked after set-up; it was kept on the
    bastion. Used at an hour nobody works, it changes who may do what.
    """

    name = "root-token-use"
    description = (
        "The root token left over from the cluster's initialisation is used before dawn from the "
        "ops bastion to read payment keys, widen the ci-deploy policy and enable a new userpass "
        "method with a user of its own."
    )

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        world, rng, h = self.world, self.rng, self.world.hasher
        root = self.mint.issue("root", ("root",), world.start - 412 * DAY, None)
        self.victim(root)
        self.identity = "root"
        client = self.at("10.9.0.4", "Vault CLI/1.17", root)
        t = self.when[0]
        calls, t = self.paced(
            client,
            t,
            [
                ("read", "auth/token/lookup-self"),
                ("read", "sys/audit"),
                ("read", "sys/auth"),
                ("read", "sys/mounts"),
                ("list", "sys/policies/acl"),
                _secret("payments/billing/card-vault-key"),
                _secret("payments/billing/stripe-api-key"),
                _secret("platform/auth-gateway/jwt-signing-key"),
                ("read", "sys/policies/acl/ci-deploy"),
            ],
            (15, 90),
        )
        policy = client.update(t, "sys/policies/acl/ci-deploy", {"policy": h("policy/ci-deploy/*")})
        t = client.after(policy, 40 + 60 * rng.random())
        enable = client.update(
            t, "sys/auth/ops-sync", {"description": h(""), "type": h("userpass")}
        )
        mount = world.mounts.add("auth/ops-sync/", "userpass", "auth", rng)
        t = client.after(enable, 20 + 30 * rng.random())
        user = client.call(
            t,
            "create",
            "auth/ops-sync/users/svc-sync",
            {"password": h("password/svc-sync"), "token_policies": [h("sre-admin")]},
        )
        user.mount = mount
        t = client.after(user, 30 + 30 * rng.random())
        login_client = self.at("10.9.0.4", "Vault CLI/1.17")
        backdoor = self.mint.issue(
            "ops-sync-svc-sync",
            ("default", "sre-admin"),
            t,
            32 * 24 * 3600,
            entity_id=world.entity_id("ops-sync/svc-sync"),
            metadata={"username": "svc-sync"},
            path="auth/ops-sync/login/svc-sync",
        )
        login = login_client.login(
            t,
            "auth/ops-sync/login/svc-sync",
            {"password": h("password/svc-sync")},
            backdoor,
            "userpass",
            entity_created=True,
        )
        check = login_client.read(login_client.after(login, 3.0), "auth/token/lookup-self")
        return [*calls, policy, enable, user, login, check]


class ImpossibleTravel(Scenario):
    """A stolen browser session: same token, same user agent, a place the person cannot
    reach in half an hour.
    """

    name = "impossible-travel"
    description = (
        "lena's UI session token, in use at her Berlin office, is replayed 30 minutes later from "
        "a DigitalOcean address in Singapore with her browser's user agent to read payment "
        "secrets."
    )

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        lena = self.cast.people["lena"]
        since = max(self.when[0], start)
        sessions = [
            s
            for s in lena.sessions
            if s.start >= since and s.place == "office" and s.token is not None
        ]
        if not sessions:
            return None
        session = sessions[0]
        token = session.token
        assert token is not None
        t = session.start + int((27 + 6 * self.rng.random()) * MINUTE)
        if not token.valid_at(t + HOUR):
            return None
        self.victim(token)
        client = self.attacker("do-singapore", lena.spec.browser, token)
        calls, _ = self.paced(
            client,
            t,
            [
                ("read", "auth/token/lookup-self"),
                ("read", "sys/internal/ui/resultant-acl"),
                ("list", "secret/metadata/payments/"),
                ("list", "secret/metadata/payments/billing/"),
                _secret("payments/billing/stripe-api-key"),
                _secret("payments/billing/bank-sftp"),
                _secret("payments/payments-api/adyen-api-key"),
                ("read", "database/creds/billing"),
            ],
            (8, 60),
        )
        return calls


class InsiderSnooping(Scenario):
    """Nothing technical is wrong: her own credentials, her own home, a policy that allows
    it. Only the secrets, the team they belong to and the hour are new.
    """

    name = "insider-snooping"
    description = (
        "divya from the data team logs in late in the evening from her usual home address and "
        "reads payments' billing keys, secrets of another team she has never read."
    )

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        t = self.when[0]
        divya = self.cast.people["divya"]
        client = self.at(divya.home_ip(t), divya.spec.browser)
        login = userpass_login(client, self.mint, t, "divya", divya.spec.policies, 8 * 3600)
        assert client.token is not None
        self.victim(client.token)
        calls, _ = self.paced(
            client,
            client.after(login, 1.0),
            [
                ("read", "auth/token/lookup-self"),
                ("read", "sys/internal/ui/resultant-acl"),
                ("read", "sys/internal/ui/mounts"),
                ("list", "secret/metadata/payments/"),
                _secret("payments/billing/stripe-api-key"),
                _secret("payments/billing/card-vault-key"),
                _secret("payments/billing/db"),
                _secret("payments/billing/pgp-signing-key"),
                _secret("payments/payments-api/adyen-api-key"),
                ("read", "database/creds/billing"),
                _secret("payments/billing/bank-sftp"),
                ("read", "kv-legacy/payments/legacy-sftp"),
            ],
            (20, 150),
        )
        return [login, *calls]


class PermissionProbing(Scenario):
    """From a shell on the host, the attacker maps what the host's token can reach; the
    address and identity are the service's own, the denials are not.
    """

    name = "permission-probing"
    description = (
        "An attacker with a shell on an inventory host uses the host's token to probe some forty "
        "paths across the server in a few minutes; almost all are denied."
    )
    _probes = (
        ("read", "auth/token/lookup-self"),
        ("read", "sys/mounts"),
        ("read", "sys/auth"),
        ("list", "sys/policies/acl"),
        ("read", "sys/audit"),
        ("list", "secret/metadata/"),
        ("list", "secret/metadata/shop/"),
        ("read", "secret/data/shop/cart/db"),
        ("read", "secret/data/payments/billing/db"),
        ("read", "secret/data/payments/billing/stripe-api-key"),
        ("read", "secret/data/platform/auth-gateway/jwt-signing-key"),
        ("read", "secret/data/sre/backup/gpg-key"),
        ("read", "secret/data/ci/deploy/kubeconfig-prod"),
        ("read", "database/creds/cart"),
        ("read", "database/creds/billing"),
        ("read", "database/creds/backup-billing"),
        ("list", "database/roles"),
        ("update", "pki_int/issue/internal-services"),
        ("list", "transit/keys"),
        ("update", "transit/decrypt/card-data"),
        ("update", "auth/token/create"),
        ("update", "auth/token/create-orphan"),
        ("list", "auth/approle/role"),
        ("update", "auth/approle/role/inventory/secret-id"),
        ("read", "kv-legacy/ops/smtp"),
        ("read", "kv-legacy/ops/s3-backup"),
        ("list", "kv-legacy/"),
        ("read", "kv-legacy/shop/inventory-feed"),
        ("read", "kv-legacy/payments/legacy-sftp"),
        ("read", "secret/data/shop/inventory/db"),
        ("read", "sys/raw/core/mounts"),
        ("list", "identity/entity/id"),
        ("read", "aws/creds/admin"),
        ("read", "cubbyhole/secrets"),
        ("read", "secret/data/shop/inventory/erp-credentials"),
        ("read", "secret/data/data/reporting/warehouse"),
        ("list", "secret/metadata/payments/"),
        ("read", "sys/storage/raft/configuration"),
        ("update", "sys/capabilities-self"),
        ("read", "database/creds/inventory"),
    )

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        t = self.when[0]
        host = self.cast.services["inventory"][0]
        token = host.token_at(t)
        if token is None or token.expires - t < HOUR:
            token = host.token_at(t + 2 * HOUR)
            t += 2 * HOUR
        if token is None:
            return None
        self.victim(token)
        client = self.at(host.client.ip or "", "curl/7.88.1", token)
        first, *probes = self._probes
        self.rng.shuffle(probes)
        h = self.world.hasher
        bodies = {
            "pki_int/": {"common_name": h("vault.acme.internal"), "ttl": h("8760h")},
            "transit/": {
                "ciphertext": h(
                    "vault:v1:8SDd3WHDOjf7mq69CyCqYjBXAiQQAVZRkFM13ok481zoCmHnSeDX9vyf7w=="
                )
            },
            "auth/token/": {"policies": [h("root")], "ttl": h("8760h")},
            "sys/capabilities-self": {"paths": [h("sys/"), h("secret/")]},
        }
        calls = []
        for operation, path in [first, *probes]:
            data = next((b for p, b in bodies.items() if path.startswith(p)), None)
            data = data if operation == "update" else None
            call = client.call(t, operation, path, data)
            calls.append(call)
            t = client.after(call, 1.0 + 14.0 * self.rng.random())
        return calls


class RevokedTokenReuse(Scenario):
    """Automated tooling does not notice a revocation: it keeps retrying with back-off, and
    Vault logs each try with the token's HMAC only.
    """

    name = "revoked-token-reuse"
    description = (
        "sam's script token, leaked in a public repository, is used from a Russian hosting "
        "address; sam revokes it, and the attacker keeps trying it for hours."
    )

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        rng, world = self.rng, self.world
        sam = self.cast.people["sam"]
        token = sam.script_token
        t = self.when[0]
        if token is None or not token.valid_at(t):
            return []
        self.victim(token)
        client = self.attacker("hosting-ru", "python-requests/2.28.1", token)
        calls, t = self.paced(
            client,
            t,
            [
                ("read", "auth/token/lookup-self"),
                _secret("platform/search/opensearch-admin"),
                ("list", "secret/metadata/platform/"),
                _secret("platform/auth-gateway/jwt-signing-key"),
            ],
            (10, 60),
        )
        # GitHub's secret scanning tells sam; he signs in and revokes the token (his calls
        # are not the attacker's and stay unlabelled).
        revoke_at = t + int((25 + 15 * rng.random()) * MINUTE)
        own = Client(world, rng, sam.home_ip(revoke_at), sam.spec.cli)
        benign = oidc_login(
            own, self.mint, revoke_at, sam.spec.email, sam.spec.policies, 12 * 3600, browser=False
        )
        revoke = own.update(
            own.after(benign[-1], 20),
            "auth/token/revoke-accessor",
            {"accessor": world.hasher(token.accessor)},
        )
        token.revoked = revoke.t + revoke.latency
        t = token.revoked + int((4 + 6 * rng.random()) * MINUTE)
        paths = [
            "auth/token/lookup-self",
            "secret/data/platform/search/opensearch-admin",
            "secret/data/platform/auth-gateway/jwt-signing-key",
            "secret/data/platform/auth-gateway/oauth-client-secret",
        ]
        retries = []
        gap = 20.0
        for _ in range(18 + rng.randrange(8)):
            call = client.read(t, rng.choice(paths))
            retries.append(call)
            t = client.after(call, gap * (0.5 + rng.random()))
            gap = min(gap * 1.35, 1500.0)
        return [*calls, *benign, revoke, *retries]


#: Every scenario, in the order they are scheduled.
SCENARIOS: tuple[type[Scenario], ...] = (
    PasswordSpray,
    StolenServiceToken,
    ImpossibleTravel,
    CiTokenAbuse,
    BulkExfiltration,
    OrphanTokenPersistence,
    RootTokenUse,
    InsiderSnooping,
    PermissionProbing,
    RevokedTokenReuse,
)

#: When each scenario strikes: (position in the attack period, time zone, local hour,
#: whether it needs a working day); the orphan token has two steps.
_TIMING: dict[str, list[tuple[float, str, float, bool]]] = {
    "password-spray": [(0.05, "Europe/Berlin", 23.6, False)],
    "stolen-service-token": [(0.15, "Europe/Berlin", 14.3, True)],
    "impossible-travel": [(0.25, "Europe/Berlin", 9.5, True)],
    "ci-token-abuse": [(0.35, "UTC", 12.0, True)],
    "bulk-exfiltration": [(0.45, "Europe/Berlin", 2.65, False)],
    "orphan-token-persistence": [
        (0.10, "Asia/Kolkata", 14.0, True),
        (0.72, "UTC", 21.5, False),
    ],
    "root-token-use": [(0.55, "Europe/Berlin", 3.85, False)],
    "insider-snooping": [(0.62, "Asia/Kolkata", 23.1, True)],
    "permission-probing": [(0.80, "Europe/Berlin", 16.7, False)],
    "revoked-token-reuse": [(0.90, "America/New_York", 11.0, True)],
}


def schedule(
    world: World, cast: Cast, days: float, kinds: tuple[type[Scenario], ...] = SCENARIOS
) -> list[Scenario]:
    """The scenarios of ``kinds``, timed inside the attack period (after the first ~6 days).

    A scenario that does not fit in a short run is left out.
    """
    first = min(6.0, 0.43 * days)
    last = max(first + 0.5, days - 0.5)
    scenarios = []
    for kind in kinds:
        when = kind.timing(world, first, last, days)
        if when and all(t < world.end - HOUR for t in when):
            scenarios.append(kind(world, cast, when))
    return scenarios


def _working_day(day: date, origin: date, days: float) -> date:
    """``day`` if it is a weekday, else the next one inside the run, else the one before."""
    end = origin + timedelta(days=int(days))
    forward = day
    while forward.weekday() >= 5:
        forward += timedelta(days=1)
    if forward < end:
        return forward
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day
