"""Events, streams and training for the detector tests.

Events are built directly as :class:`EnrichedEvent` values with hand-made
:class:`GeoInfo` answers (no GeoIP database involved). Streams are deterministic: the same
call gives the same events, so every test replays exactly the same history.

Detectors run prequentially, as in :meth:`detector.model.RiskModel.process`: each event
is scored against what was known before it, then observed, then learned.
:func:`learner` builds a :class:`RiskModel` whose thresholds no risk can reach, so it
learns from every event; :func:`replay` does the same for one detector without a scorer.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Sequence
from typing import Any

from detector.detectors.base import Detector, Finding
from detector.event import AccessEvent, EnrichedEvent, GeoInfo, Sensitivity, ServiceInfo
from detector.model import RiskModel
from detector.scoring import Assessment, Learning, Scorer
from detector.state import IdentityState, IdentityStore

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
#: Monday 2024-01-01 00:00 UTC: hour of the week 0.
T0 = 1704067200.0

# -- places ------------------------------------------------------------------------------

OFFICE = GeoInfo("private", network="10.1.0.0/16")
OTHER_SUBNET = GeoInfo("private", network="10.9.0.0/16")
LOOPBACK = GeoInfo("loopback", network="127.0.0.0/8")
BERLIN = GeoInfo(
    "public",
    network="89.0.142.0/24",
    country="DE",
    city="Berlin",
    latitude=52.52,
    longitude=13.405,
    radius_km=10.0,
    asn=3320,
    as_org="Deutsche Telekom",
)
MUNICH = GeoInfo(
    "public",
    network="89.0.150.0/24",
    country="DE",
    city="Munich",
    latitude=48.137,
    longitude=11.575,
    radius_km=10.0,
    asn=3320,
    as_org="Deutsche Telekom",
)
SAO_PAULO = GeoInfo(
    "public",
    network="177.67.80.0/24",
    country="BR",
    city="São Paulo",
    latitude=-23.55,
    longitude=-46.633,
    radius_km=20.0,
    asn=28573,
    as_org="Claro",
)
NEW_YORK = GeoInfo(
    "public",
    network="8.8.4.0/24",
    country="US",
    city="New York",
    latitude=40.713,
    longitude=-74.006,
    radius_km=20.0,
    asn=15169,
    as_org="Example Transit",
)
#: A public address GeoIP knows only the country of.
COUNTRY_ONLY = GeoInfo("public", network="8.8.8.0/24", country="US")


def cloud_address(i: int) -> GeoInfo:
    """The ``i``-th short-lived cloud address of a CI runner: a new /24 each time."""
    return GeoInfo(
        "public",
        network=f"3.{(i // 250) % 250}.{i % 250}.0/24",
        country="US",
        city="Ashburn",
        latitude=39.04,
        longitude=-77.49,
        radius_km=50.0,
        asn=14618,
        as_org="AMAZON-AES",
    )


# -- inventory and sensitivity -----------------------------------------------------------

PAYMENTS = ServiceInfo(
    "payments-api",
    team="payments",
    environment="prod",
    criticality="high",
    auto_revoke=True,
    namespaces=("secret/data/payments/*", "secret/metadata/payments/*", "database/creds/pay*"),
)
BILLING = ServiceInfo("billing", team="finance", namespaces=("secret/data/billing/*",))
LOW = Sensitivity("low", 0.1)
MEDIUM = Sensitivity("medium", 0.5)
HIGH = Sensitivity("high", 0.9)
CRITICAL = Sensitivity("critical", 1.0)

# -- events ------------------------------------------------------------------------------

_ids = itertools.count()


def make_event(
    time: float,
    identity: str = "svc",
    *,
    action: str = "read",
    resource: str = "secret/data/app/db",
    ip: str | None = "10.1.0.5",
    geo: GeoInfo | None = OFFICE,
    service: ServiceInfo | None = None,
    network_owner: ServiceInfo | None = None,
    sensitivity: Sensitivity | None = None,
    credential: str | None = "acc-svc-1",
    event_id: str | None = None,
    **fields: Any,
) -> EnrichedEvent:
    """One enriched event; ``fields`` go to :class:`AccessEvent` as they are."""
    event = AccessEvent(
        event_id=event_id or f"ev-{next(_ids)}",
        time=time,
        source="vault",
        identity=identity,
        action=action,
        resource=resource,
        client_ip=ip,
        credential=credential,
        **fields,
    )
    return EnrichedEvent(
        event, geo=geo, service=service, network_owner=network_owner, sensitivity=sensitivity
    )


def routine(
    days: int = 10,
    per_hour: int = 4,
    hours: Iterable[int] = range(9, 17),
    weekdays_only: bool = True,
    start: float = T0,
    resources: Sequence[str] = ("secret/data/app/db",),
    **fields: Any,
) -> list[EnrichedEvent]:
    """A regular schedule: ``per_hour`` evenly spaced events in each of ``hours`` (UTC).

    Resources are read in turn; ``fields`` go to :func:`make_event` for every event.
    """
    hours = list(hours)
    events = []
    cycle = itertools.cycle(resources)
    for day in range(days):
        if weekdays_only and (math.floor((start + day * DAY - T0) / DAY) % 7) >= 5:
            continue
        for hour in hours:
            for k in range(per_hour):
                time = start + day * DAY + hour * HOUR + (k + 0.5) * HOUR / per_hour
                events.append(make_event(time, resource=next(cycle), **fields))
    return events


def merge(*streams: Iterable[EnrichedEvent]) -> list[EnrichedEvent]:
    """Streams interleaved in event-time order."""
    return sorted(itertools.chain(*streams), key=lambda e: e.event.time)


def last_time(events: Sequence[EnrichedEvent]) -> float:
    return max(e.event.time for e in events)


# -- running detectors -------------------------------------------------------------------


def learner(*detectors: Detector, learning: Learning | None = None) -> RiskModel:
    """A :class:`RiskModel` over ``detectors`` that learns from every event.

    Thresholds above any risk mean nothing is ever held back from learning.
    """
    scorer = Scorer(
        {d.name: 1.0 for d in detectors},
        alert=1.5,
        revoke=1.5,
        learning=learning or Learning(min_events=1, min_age=0.0),
    )
    return RiskModel(detectors, scorer, IdentityStore(idle_ttl=365 * DAY, max_identities=10_000))


def feed(model: RiskModel, events: Iterable[EnrichedEvent]) -> list[Assessment]:
    return [model.process(event) for event in events]


def state_for(model: RiskModel, event: EnrichedEvent) -> IdentityState:
    """The identity's state in ``model``, or a blank one for an identity it never saw."""
    e = event.event
    return model.store.get(e.identity) or IdentityState(e.identity, e.time)


def score(model: RiskModel, event: EnrichedEvent, name: str | None = None) -> Finding | None:
    """What the model's (only, or named) detector says about ``event`` — without learning it."""
    detectors = [d for d in model.detectors if name is None or d.name == name]
    assert len(detectors) == 1, "name the detector to score with"
    return detectors[0].score_one(event, state_for(model, event))


def score_value(finding: Finding | None) -> float:
    return finding.score if finding is not None else 0.0


def replay(
    detector: Detector, events: Iterable[EnrichedEvent], store: IdentityStore | None = None
) -> tuple[list[Finding | None], IdentityStore]:
    """Run one detector prequentially over ``events``, learning from every one of them.

    The same steps as :meth:`RiskModel.process`, without a scorer in between.
    """
    if store is None:
        store = IdentityStore(idle_ttl=365 * DAY, max_identities=10_000)
    findings = []
    for event in events:
        e = event.event
        state = store.get_or_create(e.identity, e.time)
        findings.append(detector.score_one(event, state))
        detector.observe_one(event, state)
        detector.learn_one(event, state)
        state.learned += 1
        state.events += 1
        store.touch(state, e.time)
    return findings, store


# -- a varied stream for the shared checks -----------------------------------------------

#: The event ids of :func:`varied_stream`'s unusual events start with this.
ODD = "odd-"


def varied_stream(days: int = 14, seed: int = 7) -> list[EnrichedEvent]:
    """A few identities on their own schedules, with something odd for every detector.

    A service on a private network around the clock, a person on weekdays from Germany,
    a CI runner on ever-changing cloud addresses, a report job reading a varying amount
    once a day. On the last Saturday (day 12), events
    whose id starts with :data:`ODD`: a new country, impossible travel, a replayed
    credential, a read outside the service's namespaces from another service's network,
    root and orphan tokens, a token Vault no longer accepts, an audit device change, a
    burst of denials from a new identity, an enumeration burst, a request burst and a
    service's secret read with a client it never used.
    """
    rng = random.Random(seed)
    events: list[EnrichedEvent] = []
    for day in range(days):
        base = T0 + day * DAY
        weekday = day % 7 < 5
        for hour in range(24):
            for _ in range(3):
                events.append(
                    make_event(
                        base + hour * HOUR + rng.uniform(0, HOUR),
                        "payments-api",
                        resource=rng.choice(
                            ["secret/data/payments/db", "secret/data/payments/stripe"]
                        ),
                        ip="10.1.4.7",
                        service=PAYMENTS,
                        network_owner=PAYMENTS,
                        sensitivity=HIGH,
                        credential=f"acc-pay-{day}",
                        user_agent="vault-agent/1.17",
                    )
                )
            if weekday and 8 <= hour < 18:
                for _ in range(rng.randint(1, 5)):
                    events.append(
                        make_event(
                            base + hour * HOUR + rng.uniform(0, HOUR),
                            "alice",
                            action=rng.choice(["read", "read", "read", "list", "write"]),
                            resource=f"secret/data/team/{rng.choice('abcdefgh')}",
                            ip="89.0.142.20",
                            geo=BERLIN if rng.random() < 0.8 else MUNICH,
                            sensitivity=rng.choice([LOW, MEDIUM, None]),
                            credential=f"acc-alice-{day}",
                            policies=("default", "team"),
                            user_agent="Vault CLI/1.17",
                        )
                    )
            if hour == 6:
                start = base + hour * HOUR + rng.uniform(0, HOUR)
                for k in range(rng.choice([1, 2, 3, 12])):
                    events.append(make_event(start + 10.0 * k, "reporter", resource="db/report"))
            if hour % 2 == 0:
                start = base + hour * HOUR + rng.uniform(0, 5 * MINUTE)
                address = cloud_address(day * 24 + hour)
                for k in range(rng.randint(8, 15)):
                    events.append(
                        make_event(
                            start + k * 2.0,
                            "ci-runner",
                            resource=f"secret/data/ci/{k}",
                            ip="3.0.0.9",
                            geo=address,
                            sensitivity=MEDIUM,
                            credential=f"acc-ci-{day}-{hour}",
                            user_agent="got (https://github.com/sindresorhus/got)",
                        )
                    )
    odd = T0 + 12 * DAY
    ids = itertools.count()

    def unusual(time: float, identity: str, **fields: Any) -> EnrichedEvent:
        return make_event(odd + time, identity, event_id=f"{ODD}{next(ids)}", **fields)

    stolen = "acc-alice-12"  # her credential, from three places within 15 minutes
    events += [
        unusual(3 * HOUR, "alice", geo=SAO_PAULO, ip="177.67.80.9", credential=stolen),
        unusual(3.2 * HOUR, "alice", geo=BERLIN, ip="89.0.142.20", credential=stolen),
        unusual(3.25 * HOUR, "alice", geo=NEW_YORK, ip="8.8.4.4", credential=stolen),
        unusual(
            4 * HOUR,
            "payments-api",
            resource="secret/data/admin/root-creds",
            service=PAYMENTS,
            network_owner=BILLING,
            sensitivity=CRITICAL,
        ),
        unusual(5 * HOUR, "alice", policies=("root",), action="admin", resource="sys/audit/file"),
        unusual(
            6 * HOUR,
            "payments-api",
            action="token-create",
            resource="auth/token/create-orphan",
            service=PAYMENTS,
            new_credential="acc-new-1",
            new_credential_orphan=True,
            new_credential_ttl=int(90 * DAY),
            new_credential_policies=("root",),
        ),
        unusual(7 * HOUR, "alice", metadata={"credential_state": "invalid"}),
    ]
    events += [
        unusual(
            8 * HOUR + i,
            "probe",
            resource=f"secret/data/{what}",
            outcome="denied",
            geo=NEW_YORK,
            ip="8.8.4.4",
            credential=None,
        )
        for i, what in enumerate(["admin", "root", "prod", "db", "aws", "gcp", "k8s", "vault"])
    ]
    events += [
        unusual(
            9 * HOUR + i,
            "payments-api",
            action=rng.choice(["read", "list"]),
            resource=f"secret/data/payments/other/{i}",
            service=PAYMENTS,
            sensitivity=HIGH,
        )
        for i in range(60)
    ]
    events += [unusual(10 * HOUR + i, "reporter", resource="db/report") for i in range(40)]
    events.append(
        unusual(
            11 * HOUR,
            "payments-api",
            service=PAYMENTS,
            sensitivity=HIGH,
            resource="secret/data/payments/db",
            user_agent="curl/8.4.0",
        )
    )
    return merge(events)


def odd_events(time: float, identity: str = "svc") -> list[EnrichedEvent]:
    """Events with missing or unusual fields: none of them may make a detector crash."""
    return [
        make_event(time, identity, ip=None, geo=None),
        make_event(time + 1, identity, geo=GeoInfo("none")),
        make_event(time + 2, identity, geo=LOOPBACK),
        make_event(time + 3, identity, geo=GeoInfo("public")),
        make_event(time + 4, identity, geo=GeoInfo("public", network="5.5.5.0/24")),
        make_event(time + 5, identity, geo=COUNTRY_ONLY),
        make_event(time + 6, identity, sensitivity=None, service=None),
        make_event(time + 7, identity, credential=None),
        make_event(time + 8, identity, resource=""),
        make_event(time + 9, identity, resource="/"),
        make_event(
            time + 10, identity, resource="secret/data/a", resources=("secret/data/a", "kv/b/c")
        ),
        make_event(time + 11, identity, action="frobnicate", resource="weird/thing"),
        make_event(time + 12, identity, outcome="denied"),
        make_event(time + 13, identity, outcome="error", error="internal error"),
        make_event(time + 14, identity, action="login", resource="auth/approle/login"),
        make_event(
            time + 15,
            identity,
            action="token-create",
            resource="auth/token/create",
            new_credential="acc-x",
        ),
        make_event(time + 16, identity, action="token-create", resource="auth/token/create"),
        make_event(time + 17, identity, service=PAYMENTS, network_owner=BILLING, geo=None),
        make_event(time + 18, identity, service=ServiceInfo("bare"), network_owner=None),
        make_event(time + 19, identity, mount="kv/", resource="kv/data/x/y"),
        make_event(time + 20, identity, policies=("root",), metadata={"credential_state": "?"}),
        make_event(
            time + 21,
            identity,
            resource="sys/leases/lookup/database/creds/app/Ahv8fS2bWqX4LgQK1PzJd7Tn",
        ),
        make_event(time + 22, identity, action="list", resource="secret/metadata/"),
        make_event(time - 3600, identity),  # out of order: an hour late
    ]
