"""Soak: millions of synthetic Vault audit lines from hundreds of thousands of identities.

A long run must not grow without bound: identities idle longer than the profile's
``idle_ttl`` are forgotten, the parser's and enrichers' memories are capped, and the rate
must not fall as the run goes on. The simulator (``detector simulate``) is too small and
slow for that, so this bench writes Vault/OpenBao file-audit-device lines itself (a request
and a response entry per call, in the simulator's shape) and feeds them straight through a
Pipeline built from ``pipelines/vault-local.toml``, scoring everything.

Identities come in waves, so most go idle and must be evicted: a small core of services
runs throughout; everyone else (AppRole jobs, userpass people) belongs to one wave of the
simulated days and calls a few times in it, a few stragglers into the next. The idle
eviction is shortened (a copy of the profile with another ``[state] idle_ttl``) so the
waves go idle within the run. Every ``--every`` lines it prints the lines so far, the
pipeline's lines/s over the interval (generation excluded; wall-clock rate beside it), the
RSS, the identities tracked and evicted and the parser's remembered tokens; at the end the
first-to-last interval rate ratio, the peak RSS, and the rate per wave (a wave's first half,
full of logins and new identities, is slower than its second: compare waves, not
intervals). It asserts nothing.

    python bench/soak.py [--lines 5000000] [--identities 300000] [--seed 7]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import resource
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from detector.build import build_pipeline
from detector.config import load_pipeline_file
from detector.pipeline import CollectingSink, Pipeline

PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "vault-local.toml"
START = 1_793_577_600  # 2026-11-02T00:00:00Z, the simulator's first day
CHUNK = 5_000  # lines generated ahead of each timed stretch of the pipeline
SECRET_MOUNT = {
    "mount_point": "secret/",
    "mount_type": "kv",
    "mount_running_version": "v2.7.2+builtin.bao",
    "mount_class": "secret",
}
PUBLIC_FIRST_OCTETS = (3, 18, 34, 35, 52, 54, 81, 85, 91, 104, 142, 185, 188, 203, 212)
AGENTS = ("vault-agent/1.17", "python-requests/2.32.3", "Vault CLI/1.17", "curl/7.88.1")
HMAC_ZERO = "hmac-sha256:" + "0" * 64  # a secret value, as the audit device hashes it
TEAMS = ("shop", "payments", "platform", "data", "ops", "search", "mobile", "ml")


# -- synthetic identities ------------------------------------------------------------------


@dataclass(slots=True)
class Identity:
    """One caller: who it is, where it calls from, what it reads, its current token."""

    entity_id: str
    display_name: str
    method: str  # approle | userpass
    login_name: str  # the role or user name
    address: str
    agent: str
    paths: tuple[str, ...]
    token: str = ""
    accessor: str = ""
    issued: str = ""
    logins: int = 0


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _accessor(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choices(alphabet, k=24))


def _address(rng: random.Random, public: bool) -> str:
    """A private address (10/8, 172.16/12, 192.168/16) or one on a public cloud-ish /8."""
    if public:
        first = rng.choice(PUBLIC_FIRST_OCTETS)
        return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    kind = rng.randrange(3)
    if kind == 0:
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if kind == 1:
        return f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def make_identity(rng: random.Random, index: int) -> Identity:
    """Mostly AppRole services on private networks; a fifth userpass people, often public."""
    team = TEAMS[index % len(TEAMS)]
    if rng.random() < 0.8:
        name = f"svc-{index}"
        public = rng.random() < 0.15
        method, display = "approle", "approle"
        paths = tuple(f"secret/data/{team}/{name}/{leaf}" for leaf in ("db", "api-key", "tls"))
    else:
        name = f"user{index}"
        public = rng.random() < 0.6
        method, display = "userpass", f"userpass-{name}"
        paths = (f"secret/data/{team}/shared/config", f"secret/data/{team}/{name}/notes")
    return Identity(
        entity_id=_uuid(rng),
        display_name=display,
        method=method,
        login_name=name,
        address=_address(rng, public),
        agent=rng.choice(AGENTS),
        paths=paths,
    )


# -- audit lines ---------------------------------------------------------------------------


class Clock:
    """Vault's timestamps (nanoseconds, ``Z``) with the calendar part cached per minute."""

    def __init__(self) -> None:
        self._minute = -1
        self._prefix = ""

    def stamp(self, seconds: float) -> str:
        whole = int(seconds)
        minute = whole // 60
        if minute != self._minute:
            self._minute = minute
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))
        nanos = int((seconds - whole) * 1e9)
        return f"{self._prefix}{whole % 60:02d}.{nanos:09d}Z"


def _token_auth(who: Identity) -> dict:
    """The ``auth`` object Vault writes for every call made with the identity's token
    (built per call rather than kept, so the generator's own memory stays small)."""
    policies = [who.login_name, "default"]
    meta_key = "role_name" if who.method == "approle" else "username"
    return {
        "client_token": who.token,
        "accessor": who.accessor,
        "display_name": who.display_name,
        "policies": policies,
        "token_policies": policies,
        "policy_results": {"allowed": True},
        "metadata": {meta_key: who.login_name},
        "entity_id": who.entity_id,
        "token_type": "service",
        "token_ttl": 3600 if who.method == "approle" else 28800,
        "token_issue_time": who.issued,
    }


def _pair(when: str, later: str, auth: dict, request: dict, response: dict, error: str | None):
    """The request and response entries of one call, as Vault writes them."""
    entry: dict = {"time": when, "type": "request", "auth": auth, "request": request}
    if error:
        entry["error"] = error
    first = orjson.dumps(entry)
    entry = {"time": later, "type": "response", "auth": auth, "request": request}
    entry["response"] = response
    if error:
        entry["error"] = error
    return first, orjson.dumps(entry)


class AuditLog:
    """Lines of a Vault audit log: logins, reads, some denials and failed logins."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = Clock()

    def _request(
        self, who: Identity, path: str, operation: str, mount: dict, token: bool = True
    ) -> dict:
        rng = self.rng
        request = {"id": _uuid(rng), "operation": operation, **mount, "namespace": {"id": "root"}}
        if token:
            request["client_id"] = who.entity_id
            request["client_token"] = who.token
            request["client_token_accessor"] = who.accessor
        request["path"] = path
        request["remote_address"] = who.address
        request["remote_port"] = rng.randrange(30000, 60000)
        request["headers"] = {"user-agent": [who.agent]}
        return request

    def login(self, who: Identity, at: float) -> tuple[bytes, bytes]:
        """A successful login: the response's auth carries the new token and accessor."""
        who.logins += 1
        seed = f"{who.entity_id}/{who.logins}".encode()
        who.token = "hmac-sha256:" + hashlib.sha256(seed).hexdigest()
        who.accessor = _accessor(self.rng)
        when, later = self.clock.stamp(at), self.clock.stamp(at + 0.004)
        who.issued = when[:19] + "Z"
        mount = {"mount_point": f"auth/{who.method}/", "mount_type": who.method}
        mount["mount_class"] = "auth"
        path = f"auth/{who.method}/login"
        if who.method == "userpass":
            path += f"/{who.login_name}"
        request = self._request(who, path, "update", mount, token=False)
        new_auth = _token_auth(who)
        del new_auth["token_issue_time"], new_auth["policy_results"]
        before = {"policy_results": {"allowed": True}, "token_type": "default"}
        return _pair(when, later, before, request, {"auth": new_auth, **mount}, None)

    def failed_login(self, who: Identity, at: float) -> tuple[bytes, bytes]:
        """A wrong password: an unauthenticated call, ``anonymous@<address>``'s."""
        mount = {"mount_point": "auth/userpass/", "mount_type": "userpass", "mount_class": "auth"}
        path = f"auth/userpass/login/{who.login_name}"
        request = self._request(who, path, "update", mount, token=False)
        when, later = self.clock.stamp(at), self.clock.stamp(at + 0.06)
        auth = {"token_type": "default"}
        return _pair(when, later, auth, request, {**mount}, "invalid credentials")

    def read(self, who: Identity, at: float, denied: bool) -> tuple[bytes, bytes]:
        """A secret read with the identity's token; a denied one outside its paths."""
        rng = self.rng
        auth = _token_auth(who)
        if denied:
            path = f"secret/data/{rng.choice(TEAMS)}/billing/stripe-api-key"
            auth["policy_results"] = {"allowed": False}
            data = {"error": HMAC_ZERO}
            error: str | None = "1 error occurred:\n\t* permission denied\n\n"
        else:
            path = rng.choice(who.paths)
            data = {"data": {"password": HMAC_ZERO}, "metadata": {"version": 3}}
            error = None
        request = self._request(who, path, "read", SECRET_MOUNT)
        when, later = self.clock.stamp(at), self.clock.stamp(at + 0.002)
        return _pair(when, later, auth, request, {**SECRET_MOUNT, "data": data}, error)


@dataclass(slots=True)
class Plan:
    """How the run is laid out: a core present throughout, the rest in waves of days."""

    calls: int
    waves: int
    wave_seconds: float
    core: int

    @property
    def duration(self) -> float:
        return self.waves * self.wave_seconds


def synthetic_lines(plan: Plan, identities: int, seed: int) -> Iterator[tuple[float, bytes]]:
    """``(event time, line)`` in time order; identities are made when first needed and
    dropped two waves later, when no call can come from them any more."""
    rng = random.Random(seed)
    log = AuditLog(seed + 1)
    people: dict[int, Identity] = {}
    per_wave = max(1, (identities - plan.core) // plan.waves)
    step = plan.duration / plan.calls
    wave = 0
    for call in range(plan.calls):
        at = START + call * step + rng.random() * step
        if _wave_at(plan, at) != wave:
            wave = _wave_at(plan, at)
            _forget(people, plan.core, plan.core + (wave - 1) * per_wave)
        index = _pick(rng, plan, per_wave, wave)
        who = people.get(index)
        if who is None:
            who = people[index] = make_identity(random.Random(seed * 1_000_003 + index), index)
        roll = rng.random()
        if roll < 0.003:
            pair = log.failed_login(who, at)
        elif not who.token or roll < 0.01:
            pair = log.login(who, at)
        else:
            pair = log.read(who, at, denied=roll > 0.985)
        yield at, pair[0]
        yield at, pair[1]


def _wave_at(plan: Plan, at: float) -> int:
    return min(plan.waves - 1, int((at - START) / plan.wave_seconds))


def _forget(people: dict[int, Identity], core: int, below: int) -> None:
    """Drop the generator's wave identities with an index below ``below`` (not the core)."""
    for index in [i for i in people if core <= i < below]:
        del people[index]


def _pick(rng: random.Random, plan: Plan, per_wave: int, wave: int) -> int:
    """A quarter of the calls from the core; the rest from this wave, a few from the last."""
    if rng.random() < 0.25:
        return rng.randrange(plan.core)
    if wave > 0 and rng.random() < 0.05:
        wave -= 1
    return plan.core + wave * per_wave + rng.randrange(per_wave)


# -- the run -------------------------------------------------------------------------------


def rss_mb() -> tuple[float, float]:
    """Current and peak resident memory (VmRSS, VmHWM), in MB."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line[:5]] = int(line.split()[1]) / 1024
    if not values:  # not Linux: the peak is all resource offers
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak
    return values["VmRSS"], values["VmHWM"]


def soak_pipeline(idle_ttl: str, tmp: Path) -> Pipeline:
    """vault-local.toml's pipeline, its profile copied with a shorter ``idle_ttl``."""
    config = load_pipeline_file(PIPELINE)
    profile = config.resolve(config.model.profile)
    text, count = re.subn(
        r'(?m)^idle_ttl\s*=\s*"[^"]*"', f'idle_ttl = "{idle_ttl}"', profile.read_text()
    )
    if count != 1:
        raise SystemExit(f"{profile}: no single [state] idle_ttl line to shorten")
    copy = tmp / "soak-profile.toml"
    copy.write_text(text)
    config.model.profile = str(copy)
    return build_pipeline(config, CollectingSink())


@dataclass(slots=True)
class Meter:
    """Interval figures: pipeline seconds, wall seconds, lines, and what they give."""

    every: int
    wave_lines: int  # a wave's first half brings new identities: compare waves, not halves
    started: float = field(default_factory=time.perf_counter)
    mark: float = 0.0
    busy: float = 0.0
    lines: int = 0
    marked_lines: int = 0
    rates: list[float] = field(default_factory=list)
    per_wave: dict[int, list[float]] = field(default_factory=dict)  # wave -> [lines, s]

    def __post_init__(self) -> None:
        self.mark = self.started

    def add(self, lines: int, seconds: float) -> None:
        """Count one fed chunk, in its interval and in its wave."""
        wave = self.per_wave.setdefault(self.lines // self.wave_lines, [0, 0.0])
        wave[0] += lines
        wave[1] += seconds
        self.busy += seconds
        self.lines += lines

    def report(self, pipeline: Pipeline) -> None:
        now = time.perf_counter()
        lines = self.lines - self.marked_lines
        rate = lines / self.busy if self.busy else 0.0
        wall = lines / (now - self.mark)
        self.rates.append(rate)
        rss, _ = rss_mb()
        store = pipeline.model.store
        # The parser's token memory is the other big bounded structure (max_known_tokens).
        tokens = len(getattr(pipeline.parser, "_tokens", ()))
        print(
            f"{self.lines:>10,} lines  {rate:>7,.0f} lines/s ({wall:>7,.0f} with generation)  "
            f"RSS {rss:>7,.1f} MB  identities {len(store):>7,} tracked "
            f"{store.evicted:>8,} evicted  tokens {tokens:>7,}  alerts {_alerts(pipeline):>5,}",
            flush=True,
        )
        self.mark, self.busy, self.marked_lines = now, 0.0, self.lines


def _alerts(pipeline: Pipeline) -> int:
    return pipeline.counts.get("alert", 0) + pipeline.counts.get("revoke", 0)


def feed(pipeline: Pipeline, chunk: list[tuple[float, bytes]]) -> float:
    """Parse and score one chunk; the seconds the pipeline took."""
    started = time.perf_counter()
    parse, score = pipeline.parse, pipeline.score
    for _, line in chunk:
        for event in parse(line):
            score(event)
    for event in pipeline.flush(now=chunk[-1][0]):
        score(event)
    return time.perf_counter() - started


def run(pipeline: Pipeline, lines: Iterator[tuple[float, bytes]], meter: Meter) -> None:
    """Feed every line in chunks, so the meter times the pipeline, not the generator."""
    chunk: list[tuple[float, bytes]] = []
    for item in lines:
        chunk.append(item)
        if len(chunk) == CHUNK:
            meter.add(len(chunk), feed(pipeline, chunk))
            chunk = []
            if meter.lines - meter.marked_lines >= meter.every:
                meter.report(pipeline)
    if chunk:
        meter.add(len(chunk), feed(pipeline, chunk))
    for event in pipeline.flush(final=True):
        pipeline.score(event)
    if meter.lines > meter.marked_lines:
        meter.report(pipeline)


def summary(pipeline: Pipeline, meter: Meter) -> None:
    _, peak = rss_mb()
    rates = meter.rates
    ratio = rates[-1] / rates[0] if len(rates) > 1 and rates[0] else float("nan")
    counts = pipeline.all_counts()
    elapsed = time.perf_counter() - meter.started
    print(
        f"summary: {meter.lines:,} lines in {elapsed:,.0f} s; lines/s first interval "
        f"{rates[0]:,.0f}, last {rates[-1]:,.0f} (last/first {ratio:.2f}; "
        f"min {min(rates):,.0f}, max {max(rates):,.0f}); peak RSS {peak:,.1f} MB; "
        f"identities {len(pipeline.model.store):,} tracked, "
        f"{pipeline.model.store.evicted:,} evicted; scored {counts.get('scored', 0):,}, "
        f"alerts {_alerts(pipeline):,}, dead letters {counts.get('deadletters', 0):,}"
    )
    waves = [lines / seconds for lines, seconds in meter.per_wave.values() if seconds]
    print(
        "lines/s per wave: "
        + ", ".join(f"{rate:,.0f}" for rate in waves)
        + f" (last/first {waves[-1] / waves[0]:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--identities", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--every", type=int, default=250_000, help="lines between reports")
    parser.add_argument("--waves", type=int, default=10, help="waves of identities")
    parser.add_argument("--wave-days", type=float, default=1.0, help="simulated days each")
    parser.add_argument("--idle-ttl", default="2d", help="eviction after this idle time")
    args = parser.parse_args()

    core = max(100, args.identities // 300)
    plan = Plan(args.lines // 2, args.waves, args.wave_days * 86400, core)
    with tempfile.TemporaryDirectory(prefix="detector-soak-") as tmp:
        pipeline = soak_pipeline(args.idle_ttl, Path(tmp))
    print(
        f"soak: {plan.calls * 2:,} lines ({plan.calls:,} calls, request + response), "
        f"{args.identities:,} identities ({core:,} throughout, the rest in {plan.waves} waves "
        f"of {args.wave_days:g} simulated days), seed {args.seed}; pipeline "
        f"{PIPELINE.name} with idle eviction after {args.idle_ttl} of event time "
        f"(profile copy; the shipped default is 30d), max_identities "
        f"{pipeline.model.store.max_identities:,}; RSS before the first line "
        f"{rss_mb()[0]:,.1f} MB",
        flush=True,
    )
    meter = Meter(args.every, max(1, plan.calls * 2 // plan.waves))
    run(pipeline, synthetic_lines(plan, args.identities, args.seed), meter)
    summary(pipeline, meter)


if __name__ == "__main__":
    main()
