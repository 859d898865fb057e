"""People: engineers and admins who log in each morning and work through the UI or CLI.

A person lives in a city with a time zone, goes to the office on some weekdays (the
office's static address) and works from home on the others (their home address, which
their provider changes now and then). A working day starts with a login and a token for
the day, then a few sessions around a lunch gap: reading and listing their team's
secrets (mostly the same few), now and then a write, a database credential, a token
lookup or renewal, rarely a permission denied while exploring. Some evenings they look
something up from home; weekends are mostly off.

Episodes make the benign background harder to tell from an attack: an engineer flies
to New York for a week, an SRE is paged at 03:00, a new service is onboarded, a
developer creates a token for a script.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from detector.simulate.auth_methods import oidc_login, userpass_login
from detector.simulate.calls import ALLOWED, Call, Reply
from detector.simulate.client import Client
from detector.simulate.identifiers import random_hmac
from detector.simulate.networks import POOLS
from detector.simulate.organisation import CITIES, KV1_SECRETS, PersonSpec
from detector.simulate.timekeeping import MINUTE, SECOND, LocalClock
from detector.simulate.tokens import Token, TokenMint
from detector.simulate.traffic import poisson
from detector.simulate.world import World

__all__ = ["Episodes", "Person", "Session"]

#: Folders of ``secret/`` each team works in (SRE look after everything).
_TEAM_FOLDERS = {
    "shop": ("shop/",),
    "payments": ("payments/",),
    "platform": ("platform/",),
    "data": ("data/reporting/", "data/etl/"),
    "sre": ("sre/", "shop/cart/", "shop/inventory/", "payments/billing/", "platform/"),
}
_TEAM_DATABASES = {
    "shop": ("cart", "inventory"),
    "payments": ("billing", "payments-api"),
    "data": ("reporting-ro",),
    "sre": ("cart", "billing", "inventory", "reporting-ro"),
    "platform": (),
}
_TOKEN_TTL = {"userpass": 8 * 3600, "oidc": 12 * 3600}
_TOKEN_MAX_TTL = 24 * 3600
_EXPLORING = (
    "secret/data/payments/billing/stripe-api-key",
    "secret/data/platform/auth-gateway/jwt-signing-key",
    "secret/data/sre/monitoring/pagerduty-token",
    "secret/data/shop/cart/db",
    "sys/mounts",
    "sys/policies/acl",
    "database/creds/billing",
    "secret/data/data/reporting/warehouse",
)


@dataclass
class Session:
    """A stretch of work: when, from where, with which agent and token."""

    start: int
    end: int
    ip: str
    user_agent: str
    token: Token | None
    place: str


@dataclass(frozen=True)
class Episodes:
    """Dates of the benign episodes, derived from the run's period.

    Dates are local to the person concerned; ``None`` when the period is too short.
    """

    trip: tuple[str, date, date] | None
    oncall: tuple[str, date] | None
    onboarding: date | None
    script_token: tuple[str, date, date] | None

    @classmethod
    def for_period(cls, start: date, days: float, onboarding: date | None) -> Episodes:
        """Place the episodes: the trip mid-period, the on-call night in its second half."""
        end = start + timedelta(days=int(days))
        depart = start + timedelta(days=max(1, int(days * 0.3)))
        while depart.weekday() != 6:  # fly out on a Sunday
            depart += timedelta(days=1)
        back = depart + timedelta(days=6)  # fly back on Saturday (maybe after the log ends)
        trip = ("jonas", depart, back) if depart + timedelta(days=1) < end else None
        oncall_day = start + timedelta(days=int(days * 0.55))
        oncall = ("tobias", oncall_day) if oncall_day < end and days >= 2 else None
        created = start + timedelta(days=max(1, int(days * 0.15)))
        while created.weekday() >= 5:
            created += timedelta(days=1)
        stop = created + timedelta(days=min(4, max(1, int(days * 0.2))))
        script = ("sam", created, stop) if created < end else None
        return cls(trip, oncall, onboarding, script)


class Person:
    """One person and their days.

    Parameters
    ----------
    world
        The simulated server.
    spec
        Who they are.
    episodes
        The period's episodes (this person may be in some of them).
    """

    def __init__(self, world: World, spec: PersonSpec, episodes: Episodes) -> None:
        self.world = world
        self.spec = spec
        self.episodes = episodes
        self.rng = rng = world.rng(f"person/{spec.username}")
        self.mint = TokenMint(rng)
        self.city = CITIES[spec.city]
        self.clock = LocalClock(self.city.timezone)
        home_pool = POOLS[self.city.homes[rng.randrange(len(self.city.homes))]]
        self.home_ips = [home_pool.pick(rng), home_pool.pick(rng)]
        self._home_change = world.start + int(rng.random() * 3 * (world.end - world.start))
        self.office_pool = POOLS[self.city.office]
        self.entity = world.entity_id(self.identity_key)
        self.client = Client(world, rng, self.home_ips[0], spec.browser)
        self.sessions: list[Session] = []
        self.tokens: list[Token] = []
        self.script_token: Token | None = None
        self.favourites = self._favourites()
        self._next_day = self.clock.date_of(world.start)
        self._hotel_ip = POOLS["newyork-hotel"].pick(rng)
        self._acl = self._resultant_acl()
        folder = "ops/" if spec.team == "sre" else f"{spec.team}/"
        self._legacy = [p for p in KV1_SECRETS if p.startswith(folder)]
        self._preflight = self._mount_preflight()
        self._mounts = self._mounts_listing()

    # -- identity -----------------------------------------------------------------------------

    @property
    def identity_key(self) -> str:
        spec = self.spec
        return f"oidc/{spec.email}" if spec.method == "oidc" else f"userpass/{spec.username}"

    def home_ip(self, t: int) -> str:
        """Their home address at ``t`` (the provider reassigns it once in a while)."""
        return self.home_ips[1] if t >= self._home_change else self.home_ips[0]

    def _favourites(self) -> list[str]:
        store = self.world.store
        paths = [
            p for folder in _TEAM_FOLDERS[self.spec.team] for p in store.paths("secret", folder)
        ]
        paths = [p for p in paths if not p.startswith("platform/notifications/")]
        self.rng.shuffle(paths)
        return paths[: min(len(paths), 5 + self.rng.randrange(6))]

    def _resultant_acl(self) -> dict[str, object]:
        h = self.world.hasher
        folders = _TEAM_FOLDERS[self.spec.team]
        return {
            "exact_paths": {"auth/token/lookup-self": {"capabilities": [h("read")]}},
            "glob_paths": {
                f"secret/data/{f}": {"capabilities": [h("read"), h("update")]} for f in folders
            },
            "root": False,
        }

    # -- days ------------------------------------------------------------------------------------

    def plan(self, start: int, end: int) -> list[Call]:
        """Calls of the local days that begin before ``end`` and were not planned yet."""
        calls: list[Call] = []
        while self.clock.midnight(self._next_day) < end:
            calls.extend(self._day(self._next_day))
            self._next_day += timedelta(days=1)
        first = self.world.start
        return [c for c in calls if c.t >= first]

    def _place(self, day: date) -> tuple[str, LocalClock]:
        """Where they are on ``day``: at home in their city, or travelling."""
        trip = self.episodes.trip
        if trip and trip[0] == self.spec.username and trip[1] < day <= trip[2]:
            return "newyork", LocalClock("America/New_York")
        return self.spec.city, self.clock

    def _day(self, day: date) -> list[Call]:
        spec, rng = self.spec, self.rng
        calls: list[Call] = []
        city, clock = self._place(day)
        travelling = city != self.spec.city
        trip = self.episodes.trip
        weekday = day.weekday()
        oncall = self.episodes.oncall
        if oncall and oncall[0] == spec.username and oncall[1] == day:
            calls.extend(self._incident(clock.at(day, 3.0 + rng.random() * 0.4)))
        if trip and trip[0] == spec.username and day == trip[1]:
            # Departure day: a look at the team's secrets before leaving for the airport,
            # then the first session from the hotel in the evening, New York time.
            t = self.clock.at(day, 8.3)
            calls.extend(self._session(t, self.home_ip(t), "home", 2))
            ny = LocalClock("America/New_York")
            calls.extend(self._session(ny.at(day, 19.5 + rng.random()), self._hotel_ip, "hotel", 2))
            return calls
        works = weekday < 5 and rng.random() > 0.04
        if travelling and trip and day == trip[2]:
            works = False
        if works:
            calls.extend(self._workday(day, clock, city, travelling))
        elif weekday >= 5 and rng.random() < 0.05:
            t = clock.at(day, 10 + rng.random() * 8)
            ip = self._hotel_ip if travelling else self.home_ip(t)
            calls.extend(self._session(t, ip, "home", 1 + rng.randrange(3)))
        calls.extend(self._chores(day, clock))
        return calls

    def _workday(self, day: date, clock: LocalClock, city: str, travelling: bool) -> list[Call]:
        spec, rng = self.spec, self.rng
        start = spec.start_hour + rng.gauss(0, 0.4)
        end = max(start + 4, spec.end_hour + rng.gauss(0, 0.5))
        lunch = 12.0 + rng.random() * 1.0
        lunch_end = lunch + 0.75 + rng.random() * 0.4
        if travelling:
            office = day.weekday() < 5
            place_ip = POOLS["newyork-office"].pick(rng) if office else self._hotel_ip
            where = "office" if office else "hotel"
        elif day.weekday() in spec.office_days:
            place_ip, where = self.office_pool.pick(rng), "office"
        else:
            place_ip, where = "", "home"
        hours = [start]
        for _ in range(poisson(rng, spec.sessions_per_day)):
            h = start + rng.random() * (end - start)
            if not lunch <= h < lunch_end:
                hours.append(h)
        hours.sort()
        calls: list[Call] = []
        busy_until = 0
        for h in hours:
            t = max(clock.at(day, h), busy_until)
            ip = place_ip or self.home_ip(t)
            session = self._session(t, ip, where, 1 + poisson(rng, 3))
            calls.extend(session)
            if session:
                busy_until = session[-1].t + 2 * MINUTE
        if spec.admin and rng.random() < 0.35:
            t = max(clock.at(day, start + rng.random() * (end - start)), busy_until)
            on_bastion = rng.random() < 0.3
            ip = "10.9.0.4" if on_bastion else (place_ip or self.home_ip(t))
            calls.extend(self._admin_session(t, ip))
        if rng.random() < 0.12:  # a look at something in the evening, from home
            t = clock.at(day, 20 + rng.random() * 2.5)
            ip = self._hotel_ip if travelling else self.home_ip(t)
            calls.extend(self._session(t, ip, "home", 1 + rng.randrange(3)))
        return calls

    # -- sessions ---------------------------------------------------------------------------------

    def _ensure_token(self, t: int, calls: list[Call]) -> int:
        """Log in unless the current token is good for another half hour."""
        token = self.client.token
        if token is not None and token.valid_at(t + 30 * MINUTE):
            return t
        spec, rng, client = self.spec, self.rng, self.client
        ttl = _TOKEN_TTL[spec.method]
        if spec.method == "userpass":
            if rng.random() < 0.03:  # a typo
                bad = userpass_login(client, None, t, spec.username, spec.policies, ttl, "typo")
                calls.append(bad)
                t = client.after(bad, 4 + rng.random() * 8)
            call = userpass_login(client, self.mint, t, spec.username, spec.policies, ttl)
            calls.append(call)
        else:
            browser = client.headers is not None and client.user_agent == spec.browser
            pair = oidc_login(client, self.mint, t, spec.email, spec.policies, ttl, browser)
            calls.extend(pair)
            call = pair[-1]
        assert client.token is not None
        self.tokens.append(client.token)
        return client.after(call, 0.3 + rng.random())

    def _session(self, t: int, ip: str, place: str, actions: int) -> list[Call]:
        spec, rng, client = self.spec, self.rng, self.client
        ui = rng.random() < spec.ui_share
        client.headers = self.world.headers(spec.browser if ui else spec.cli)
        client.reconnect(ip)
        calls: list[Call] = []
        begin = t
        t = self._ensure_token(t, calls)
        if ui:
            for path, reply, arg in self.ui_opening():
                call = client.call(t, "read", path, None, reply, arg)
                calls.append(call)
                t = client.after(call, 0.05 + 0.2 * rng.random())
        for _ in range(actions):
            t = self._action(t, ui, calls)
            t += int((5 + rng.random() * (60 if ui else 120)) * SECOND)
            if not ui:
                client.reconnect()  # every CLI command is a new process
        self.sessions.append(Session(begin, t, ip, client.user_agent or "", client.token, place))
        return calls

    def ui_opening(self) -> tuple[tuple[str, int | None, object], ...]:
        """(path, reply, body) of the calls the web UI makes as a session opens.

        Public so that an impostor with this person's token can open a session the same way.
        """
        return (
            ("auth/token/lookup-self", None, None),
            ("sys/internal/ui/resultant-acl", Reply.STATIC, self._acl),
            ("sys/internal/ui/mounts", Reply.STATIC, self._mounts),
        )

    def cli_preflight(self, client: Client, t: int, path: str, calls: list[Call]) -> int:
        """The CLI's question before a KV command on ``path`` (which engine and version),
        made by ``client`` — this person's, or whoever holds their token; the next free
        moment."""
        if not path.startswith("secret/"):
            return t
        logical = path.split("/", 2)[2]
        probe = client.call(
            t,
            "read",
            f"sys/internal/ui/mounts/secret/{logical}",
            None,
            Reply.STATIC,
            self._preflight,
        )
        calls.append(probe)
        return client.after(probe, 0.001)

    def _action(self, t: int, ui: bool, calls: list[Call]) -> int:
        rng, client = self.rng, self.client
        roll = rng.random()
        weights = [1 / (i + 1) for i in range(len(self.favourites))]
        path = rng.choices(self.favourites, weights)[0] if self.favourites else "sre/backup/gpg-key"
        if roll < 0.005:
            target = rng.choice(_EXPLORING)
            return self._kv_call(t, ui, calls, "read", target)
        if roll < 0.55:
            return self._kv_call(t, ui, calls, "read", f"secret/data/{path}")
        if roll < 0.73:
            folder = path.rsplit("/", 1)[0] + "/"
            if ui:
                top = folder.split("/", 1)[0] + "/"
                call = client.list(t, f"secret/metadata/{top}")
                calls.append(call)
                t = client.after(call, 1 + rng.random() * 4)
            return self._kv_call(t, ui, calls, "list", f"secret/metadata/{folder}")
        if roll < 0.77:
            data = {"data": self.world.hasher.structure({"value": f"{path}@{t}"})}
            return self._kv_call(t, ui, calls, "update", f"secret/data/{path}", data)
        if roll < 0.84:
            databases = _TEAM_DATABASES[self.spec.team]
            if databases:
                call = client.read(t, f"database/creds/{rng.choice(databases)}")
                calls.append(call)
                return client.after(call, 0.5)
            return self._kv_call(t, ui, calls, "read", f"secret/data/{path}")
        if roll < 0.89:
            if not self._legacy:
                return self._kv_call(t, ui, calls, "read", f"secret/data/{path}")
            call = client.read(t, f"kv-legacy/{rng.choice(self._legacy)}")
            calls.append(call)
            return client.after(call, 0.5)
        if roll < 0.95 and ui:
            call = client.read(t, f"secret/metadata/{path}")
            calls.append(call)
            return client.after(call, 0.5)
        token = client.token
        if roll < 0.98 or token is None:
            call = client.read(t, "auth/token/lookup-self")
            calls.append(call)
            return client.after(call, 0.5)
        ttl = _TOKEN_TTL[self.spec.method]
        new_end = min(t + ttl * SECOND, token.issued + _TOKEN_MAX_TTL * SECOND)
        token.expires = max(token.expires, new_end)
        call = client.renew(t, max(0, (token.expires - t) // SECOND))
        calls.append(call)
        return client.after(call, 0.5)

    def _kv_call(
        self, t: int, ui: bool, calls: list[Call], operation: str, path: str, data: object = None
    ) -> int:
        """A KV command; the CLI first asks which engine and version the path is on."""
        client = self.client
        if not ui:
            t = self.cli_preflight(client, t, path, calls)
        call = client.call(t, operation, path, data)
        calls.append(call)
        writes = operation in ("create", "update") and call.outcome == ALLOWED
        if writes and path.startswith("secret/data/"):
            self.world.store.write("secret", path[12:], call.t)
        return client.after(call, 0.2)

    def _mount_preflight(self) -> dict[str, object]:
        h = self.world.hasher
        mount = self.world.mounts["secret/"]
        return {
            "accessor": h(mount.accessor),
            "config": {"default_lease_ttl": 0, "force_no_cache": False, "max_lease_ttl": 0},
            "description": h("key/value secret storage"),
            "local": False,
            "options": {"version": h("2")},
            "path": h("secret/"),
            "seal_wrap": False,
            "type": h("kv"),
            "uuid": h(f"uuid/{mount.accessor}"),
        }

    def _mounts_listing(self) -> dict[str, object]:
        h = self.world.hasher
        return {
            "auth": {
                p: {"type": h(t)}
                for p, t in (("token/", "token"), ("userpass/", "userpass"), ("oidc/", "oidc"))
            },
            "secret": {
                p: {"type": h(t)}
                for p, t in (("secret/", "kv"), ("kv-legacy/", "kv"), ("database/", "database"))
            },
        }

    # -- the special days -----------------------------------------------------------------------

    def _admin_session(self, t: int, ip: str) -> list[Call]:
        """Policies, mounts, auth methods, roles: the admin's routine."""
        rng, client, h = self.rng, self.client, self.world.hasher
        client.headers = self.world.headers(self.spec.cli)
        client.reconnect(ip)
        calls: list[Call] = []
        t = self._ensure_token(t, calls)
        policy = rng.choice(("cart", "billing", "inventory", "search", "ci-shop", "reporting"))
        role = rng.choice(("cart", "inventory", "auth-gateway", "reporting", "checkout-staging"))
        steps: list[tuple[str, str, object, int | None, object]] = [
            ("list", "sys/policies/acl", None, None, None),
            (
                "read",
                f"sys/policies/acl/{policy}",
                None,
                Reply.STATIC,
                {"name": h(policy), "policy": h(f"policy/{policy}")},
            ),
            ("read", "sys/mounts", None, Reply.STATIC, self._mounts),
            ("read", "sys/auth", None, Reply.STATIC, self._mounts["auth"]),
            ("list", "auth/approle/role", None, None, None),
            (
                "read",
                f"auth/approle/role/{role}",
                None,
                Reply.STATIC,
                {"token_policies": [h(role)], "token_ttl": 3600, "secret_id_num_uses": 0},
            ),
        ]
        if rng.random() < 0.25:
            steps.append(
                (
                    "update",
                    f"sys/policies/acl/{policy}",
                    {"policy": h(f"policy/{policy}/{t}")},
                    None,
                    None,
                )
            )
        if rng.random() < 0.2:
            steps.append(
                (
                    "update",
                    f"auth/approle/role/{role}/secret-id",
                    None,
                    Reply.STATIC,
                    {
                        "secret_id": random_hmac(rng),
                        "secret_id_accessor": random_hmac(rng),
                        "secret_id_num_uses": 0,
                        "secret_id_ttl": 0,
                    },
                )
            )
        if rng.random() < 0.3:
            steps.append(
                ("update", "auth/token/lookup-accessor", {"accessor": random_hmac(rng)}, None, None)
            )
        for operation, path, data, reply, arg in steps:
            call = client.call(t, operation, path, data, reply, arg)
            calls.append(call)
            t = client.after(call, 3 + rng.random() * 40)
        self.sessions.append(Session(calls[0].t, t, ip, self.spec.cli, client.token, "admin"))
        return calls

    def _incident(self, t: int) -> list[Call]:
        """Paged at night: the on-call SRE reads what they need to fix several services."""
        rng, client = self.rng, self.client
        ip = self.home_ip(t)
        client.headers = self.world.headers(self.spec.cli)
        client.reconnect(ip)
        calls: list[Call] = []
        t = self._ensure_token(t, calls)
        paths = [
            "secret/data/shop/cart/db",
            "database/creds/cart",
            "secret/data/shop/cart/redis",
            "secret/data/payments/billing/db",
            "database/creds/billing",
            "secret/data/shop/inventory/db",
            "database/creds/inventory",
            "kv-legacy/ops/smtp",
            "secret/data/sre/monitoring/pagerduty-token",
        ]
        for _ in range(28 + rng.randrange(12)):
            path = rng.choice(paths)
            if path.startswith("secret/") and rng.random() < 0.3:
                folder = path.split("/", 2)[2].rsplit("/", 1)[0] + "/"
                call = client.list(t, f"secret/metadata/{folder}")
            elif rng.random() < 0.1:
                call = client.update(t, "sys/leases/lookup", {"lease_id": random_hmac(rng)})
            else:
                call = client.read(t, path)
            calls.append(call)
            t = client.after(call, 20 + rng.random() * 120)
            client.reconnect()
        self.sessions.append(Session(calls[0].t, t, ip, self.spec.cli, client.token, "on-call"))
        return calls

    def _chores(self, day: date, clock: LocalClock) -> list[Call]:
        """One-off tasks: onboarding the new service, the token for a script."""
        episodes, spec, rng, client = self.episodes, self.spec, self.rng, self.client
        calls: list[Call] = []
        h = self.world.hasher
        if episodes.onboarding == day and spec.username in ("sam", "mia"):
            t = clock.at(day, 14 + rng.random())
            client.headers = self.world.headers(spec.cli)
            client.reconnect(
                self.home_ip(t) if spec.username == "sam" else self.office_pool.pick(rng)
            )
            t = self._ensure_token(t, calls)
            if spec.username == "sam":
                for name in ("smtp", "twilio-token", "firebase-key"):
                    path = f"platform/notifications/{name}"
                    data = {"data": h.structure({"value": f"{path}@onboarding"})}
                    t = self._kv_call(t, False, calls, "create", f"secret/data/{path}", data)
                    t += int((20 + 40 * rng.random()) * SECOND)
            else:
                for path, data in (
                    ("sys/policies/acl/notifications", {"policy": h("policy/notifications")}),
                    (
                        "auth/kubernetes/role/notifications",
                        {
                            "bound_service_account_names": [h("notifications")],
                            "bound_service_account_namespaces": [h("platform")],
                            "token_policies": [h("notifications")],
                            "token_ttl": h("1h"),
                        },
                    ),
                ):
                    call = client.call(t, "update", path, data)
                    calls.append(call)
                    t = client.after(call, 30 + 60 * rng.random())
        script = episodes.script_token
        if script and script[0] == spec.username and script[1] <= day <= script[2]:
            calls.extend(self._script(day, clock, first=day == script[1]))
        return calls

    def _script(self, day: date, clock: LocalClock, first: bool) -> list[Call]:
        """A developer's script, run hourly from home with a token they created for it."""
        rng, client, h = self.rng, self.client, self.world.hasher
        calls: list[Call] = []
        if first:
            t = clock.at(day, 11 + rng.random())
            client.headers = self.world.headers(self.spec.cli)
            client.reconnect(self.home_ip(t))
            t = self._ensure_token(t, calls)
            parent = client.token
            assert parent is not None
            child = self.mint.issue(
                "token-local-script",
                parent.policies,
                t,
                720 * 3600,
                entity_id=parent.entity_id,
            )
            data = {
                "display_name": h("local-script"),
                "policies": [h(p) for p in parent.policies],
                "ttl": h("720h"),
            }
            calls.append(client.issue(t, "auth/token/create", data, child))
            self.script_token = child
        token = self.script_token
        if token is None or day.weekday() >= 5:
            return calls
        script = Client(
            self.world, rng, self.home_ip(clock.at(day, 12)), "python-requests/2.32.3", token
        )
        for hour in range(int(self.spec.start_hour) + 1, int(self.spec.end_hour)):
            t = clock.at(day, hour + rng.random() * 0.1)
            if t < token.issued:
                continue  # the script runs once its token exists
            for path in (
                "secret/data/platform/search/opensearch-admin",
                "secret/data/platform/search/synonyms-api-key",
            ):
                call = script.read(t, path)
                calls.append(call)
                t = script.after(call, 0.05)
            script.reconnect()
        return calls
