"""The streaming stages as plain objects, without a broker: routing keys (the fast path
agrees with full decoding), watermarks (lowest upstream, quiet partitions following the
wall clock), parsing in event-time order with unanswered requests given up by watermark,
and scoring in (time, id) order with duplicates and failover replays skipped."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest

from detector.build import build_pipeline
from detector.config import load_pipeline_file
from detector.event import AccessEvent, format_time
from detector.parsers.timestamps import parse_timestamp
from detector.pipeline import Pipeline
from detector.streaming.stages import (
    EntryProgress,
    ParseStage,
    RouteStage,
    ScoreStage,
    WatermarkTracker,
    _vault_key,
    routing_key,
)

REPO = Path(__file__).resolve().parents[2]
T0 = parse_timestamp("2026-11-02T09:00:00Z")
TOKEN = "hmac-sha256:5b0f3c0ff6f53d4f1a7e3f5b3d8b41f5f1f3e2c9a1d6e0b7c4a2f8e9d0c1b2a3"
NEW_TOKEN = "hmac-sha256:0e4a7b9c2d1f3e5a6b8c0d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a"
INF = math.inf


# -- audit lines ------------------------------------------------------------------------


def vault_entry(
    kind: str,
    request_id: str,
    at: float,
    token: str | None = TOKEN,
    *,
    path: str = "secret/data/shop/cart/db",
    issued: str | None = None,
) -> bytes:
    """An entry in Vault's own field order: ``time``, ``type``, ``auth``, ``request``
    (``id`` first, ``client_token`` further in), ``response``. ``token``: the caller's
    (None: a call before login); ``issued``: the token a login response hands out."""
    auth: dict = {"token_type": "default"}
    request: dict = {"id": request_id, "operation": "read", "mount_point": "secret/"}
    if token is not None:
        auth = {
            "client_token": token,
            "accessor": "acc-cart-0000000000000000",
            "display_name": "approle",
            "entity_id": "ent-cart",
            "policies": ["cart", "default"],
            "token_type": "service",
        }
        request["client_token"] = token
        request["client_token_accessor"] = "acc-cart-0000000000000000"
    request |= {"namespace": {"id": "root"}, "path": path, "remote_address": "10.1.0.5"}
    entry: dict = {"time": format_time(at), "type": kind, "auth": auth, "request": request}
    if kind == "response":
        entry["response"] = {"mount_point": "secret/", "data": {"password": "hmac-sha256:ab"}}
        if issued is not None:
            entry["response"] = {
                "auth": {
                    "client_token": issued,
                    "accessor": "acc-new-000000000000000000",
                    "entity_id": "ent-cart",
                    "policies": ["cart"],
                }
            }
    return orjson.dumps(entry)


def decoded_key(line: bytes) -> tuple[bytes, float]:
    """The routing key by its definition, from the fully decoded entry."""
    entry = orjson.loads(line)
    request = entry["request"]
    return (request.get("client_token") or request["id"]).encode(), parse_timestamp(entry["time"])


def slow_path(line: bytes) -> tuple[bytes, float | None]:
    """``routing_key`` made to decode in full (a leading space defeats the fast path)."""
    return routing_key(b" " + line)


def cloudtrail_line(event_id: str, at: str = "2026-11-02T09:00:00Z") -> bytes:
    return orjson.dumps(
        {
            "eventVersion": "1.08",
            "eventTime": at,
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "GetSecretValue",
            "eventID": event_id,
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ana"},
            "requestParameters": {"secretId": "prod/db"},
        }
    )


# -- routing keys ----------------------------------------------------------------------


def test_a_call_and_its_answer_travel_under_the_callers_token():
    request = vault_entry("request", "r-1", T0)
    response = vault_entry("response", "r-1", T0 + 0.25)
    assert routing_key(request) == (TOKEN.encode(), T0)
    assert routing_key(response) == (TOKEN.encode(), T0 + 0.25)


def test_a_login_and_its_answer_travel_under_the_request_id_not_the_token_handed_out():
    request = vault_entry("request", "login-1", T0, token=None, path="auth/approle/login")
    response = vault_entry(
        "response", "login-1", T0 + 0.1, token=None, path="auth/approle/login", issued=NEW_TOKEN
    )
    assert routing_key(request) == (b"login-1", T0)
    assert routing_key(response) == (b"login-1", T0 + 0.1)


FAST_PATH_LINES = {
    "request": vault_entry("request", "r-1", T0),
    "response": vault_entry("response", "r-1", T0 + 1),
    "login request": vault_entry("request", "l-1", T0, token=None),
    "login response": vault_entry("response", "l-1", T0, token=None, issued=NEW_TOKEN),
    "nanosecond time": vault_entry("response", "r-2", T0).replace(
        b"09:00:00Z", b"09:00:00.202601665Z"
    ),
}


@pytest.mark.parametrize("line", FAST_PATH_LINES.values(), ids=FAST_PATH_LINES.keys())
def test_the_key_found_without_decoding_is_the_key_of_full_decoding(line):
    fast = _vault_key(line)
    assert fast is not None, "a line in Vault's field order should take the fast path"
    assert fast == slow_path(line) == decoded_key(line)
    assert routing_key(line) == fast


def test_lines_not_in_vaults_field_order_are_decoded_in_full():
    entry = orjson.loads(vault_entry("response", "r-1", T0))
    reordered = orjson.dumps({"request": entry["request"], **entry})
    assert _vault_key(reordered) is None
    assert routing_key(reordered) == (TOKEN.encode(), T0)


def test_a_key_with_escaped_characters_is_decoded_in_full():
    line = vault_entry("request", 'odd"id\\1', T0, token=None)
    assert _vault_key(line) is None
    assert routing_key(line) == (b'odd"id\\1', T0)


def test_real_openbao_lines_are_keyed_as_full_decoding_keys_them(shared_dir):
    sample = shared_dir / "samples" / "openbao-audit.jsonl"
    if not sample.exists():
        pytest.skip(f"{sample} is absent")
    lines = sample.read_bytes().splitlines()
    keys: dict[str, set[bytes]] = {}
    for line in lines:
        assert _vault_key(line) is not None, line[:120]
        assert routing_key(line) == slow_path(line) == decoded_key(line), line[:120]
        request_id = orjson.loads(line)["request"].get("id")  # a few have none
        if request_id is not None:
            keys.setdefault(request_id, set()).add(routing_key(line)[0])
    assert len(lines) > 100
    split = {request_id: found for request_id, found in keys.items() if len(found) > 1}
    assert split == {}, "a request and its response would go to different partitions"


def test_cloudtrail_records_are_keyed_by_their_event_id():
    key, time = routing_key(cloudtrail_line("3c9d5a0e-1111-4b2c-9d7e-aaaaaaaaaaaa"))
    assert key == b"3c9d5a0e-1111-4b2c-9d7e-aaaaaaaaaaaa"
    assert time == T0


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"not json",
        b"[1, 2, 3]",
        b'"a string"',
        b'{"neither":"vault nor cloudtrail"}',
        b'{"time":"2026-11-02T09:00:00Z","type":"request","auth":{}',  # cut short
    ],
)
def test_malformed_lines_are_keyed_empty_with_no_time(line):
    assert routing_key(line) == (b"", None)


# -- watermarks ------------------------------------------------------------------------


def test_the_watermark_is_the_lowest_upstream_and_a_silent_source_holds_everything_back():
    tracker = WatermarkTracker(3)
    assert tracker.low == -INF
    tracker.update(0, T0 + 10)
    tracker.update(1, T0 + 5)
    assert tracker.low == -INF, "source 2 was never heard from"
    tracker.update(2, T0 + 7)
    assert tracker.low == T0 + 5
    tracker.update(1, T0 + 20)
    assert tracker.low == T0 + 7
    tracker.update(7, T0 - 100)  # not one of ours
    assert tracker.low == T0 + 7


def test_a_watermark_sent_before_the_stage_existed_is_not_taken():
    """After a rebalance the new owners read the upstream partitions again from their
    committed offsets; the previous owners' last watermarks, still on the topic, promised
    more than that (after a broker outage, the wall clock): taken, they would let a new
    stage pass the entries it holds before older ones come again."""
    tracker = WatermarkTracker(2, since=T0)
    tracker.update(0, T0 + 3600, sent=T0 - 5)  # the previous owner's, before the failover
    tracker.update(1, T0 + 3600, sent=T0 - 5)
    assert tracker.low == -INF
    tracker.update(0, T0 - 60, sent=T0 + 0.2)  # the new owner's, from its committed offset
    tracker.update(1, T0 - 50, sent=None)  # a broker without time stamps: taken
    assert tracker.low == T0 - 60


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def clocks() -> tuple[Clock, Clock]:
    """(monotonic, wall): the wall clock well after the lines' event times."""
    return Clock(500.0), Clock(T0 + 3600)


def route_stage(clocks: tuple[Clock, Clock]) -> RouteStage:
    monotonic, wall = clocks
    return RouteStage(
        lateness=30.0, idle=5.0, skew=2.0, clock=monotonic, now=wall, replay_idle=20.0
    )


def test_nothing_is_promised_before_the_partitions_end_is_known(clocks):
    stage = route_stage(clocks)
    stage.route(0, 0, vault_entry("response", "r-1", T0))
    clocks[0].at += 60
    assert stage.watermark(0, None, None) == -INF
    assert stage.watermark(0, None, 1) == -INF


def test_while_reading_the_watermark_is_the_newest_event_time_less_the_lateness(clocks):
    stage = route_stage(clocks)
    assert stage.watermark(0, 100, None) == -INF  # nothing read, far from the end
    stage.route(0, 0, vault_entry("response", "r-1", T0))
    stage.route(0, 1, vault_entry("response", "r-2", T0 + 10))
    stage.route(0, 2, vault_entry("response", "r-3", T0 + 4))  # a little out of order
    stage.route(0, 3, b"not json")  # no time: moves nothing
    assert stage.watermark(0, 100, None) == T0 + 10 - 30
    assert stage.watermark(1, 100, None) == -INF, "partitions are tracked apart"


def test_a_partition_read_to_its_end_but_heard_from_lately_keeps_the_lateness_bound(clocks):
    stage = route_stage(clocks)
    stage.route(0, 9, vault_entry("response", "r-1", T0))
    clocks[0].at += 4.9  # less than ``idle``
    assert stage.watermark(0, 10, None) == T0 - 30


def test_a_quiet_live_partition_follows_the_wall_clock_less_the_skew(clocks):
    monotonic, wall = clocks
    stage = route_stage(clocks)
    stage.route(0, 9, vault_entry("response", "r-1", wall.at - 10.0))  # written just now
    monotonic.at += 5.0  # ``idle`` seconds without a line
    assert stage.watermark(0, 10, None) == wall.at - 2.0


def test_a_replay_that_pauses_keeps_its_bound_until_it_is_quiet_for_longer(clocks):
    """Old lines (an hour behind the wall clock): a pause of ``idle`` is a shipper taking
    a breath, not the end of the replay."""
    monotonic, wall = clocks
    stage = route_stage(clocks)
    stage.route(0, 9, vault_entry("response", "r-1", T0))
    monotonic.at += 5.0
    assert stage.watermark(0, 10, None) == T0 - 30, "idle, but a replay: still the bound"
    monotonic.at += 15.0  # ``replay_idle`` in all
    assert stage.watermark(0, 10, None) == wall.at - 2.0
    wall.at += 60
    monotonic.at += 60
    assert stage.watermark(0, 10, None) == wall.at - 2.0, "it moves on with the clock"
    assert stage.watermark(0, 11, None) == T0 - 30, "a new line to read: back to the bound"


def test_a_quiet_partition_never_goes_back_behind_what_it_has_read(clocks):
    monotonic, wall = clocks
    stage = route_stage(clocks)
    stage.route(0, 0, vault_entry("response", "r-1", wall.at + 30))  # a server clock ahead
    monotonic.at += 10
    assert stage.watermark(0, 1, None) == wall.at + 30


def test_a_revoked_partition_is_read_again_from_its_committed_offset_not_from_its_old_place(
    clocks,
):
    """After a rebalance the lines past the committed offset come again: a stage that
    kept its place (and its newest time) would vouch for them before reading them."""
    stage = route_stage(clocks)
    stage.route(0, 19, vault_entry("response", "r-1", T0 + 60))
    assert stage.watermark(0, 30, 10) == T0 + 60 - 30
    stage.forget(0)
    assert stage.watermark(0, 30, 10) == -INF, "twenty lines to read again first"
    stage.route(0, 10, vault_entry("response", "r-0", T0))
    assert stage.watermark(0, 30, 10) == T0 - 30


def test_old_lines_reaching_a_quiet_partition_correct_its_watermark_before_they_travel(clocks):
    """A partition quiet long enough vouches for the wall clock; a backfill of old lines
    then arrives. They must not reach the parse stage under that bound (they would be
    parsed in arrival order: late events, lost pairings), so the route stage says so first."""
    monotonic, wall = clocks
    stage = route_stage(clocks)
    stage.route(0, 0, vault_entry("response", "r-0", T0))
    monotonic.at += 20.0
    assert stage.watermark(0, 1, None) == wall.at - 2.0, "quiet: the wall clock"
    stage.route(0, 1, vault_entry("request", "r-1", T0 + 5))
    assert stage.overtaken(0, T0 + 5), "older than what the partition vouched for"
    assert stage.watermark(0, 2, None) < T0 + 5, "the corrected mark holds the line back"
    assert not stage.overtaken(0, T0 + 6), "once corrected, later lines are in order"


def test_a_replay_resuming_on_one_partition_takes_back_the_wall_clock_of_the_others(clocks):
    """A replay paused (a broker outage) long enough for every partition to vouch for the
    wall clock resumes on one partition first: the others' bound would let its lines pass
    theirs, still on their way, so they are corrected too and wait their quiet time anew."""
    monotonic, wall = clocks
    stage = route_stage(clocks)
    stage.route(0, 0, vault_entry("response", "r-0", T0))
    stage.route(1, 0, vault_entry("response", "r-1", T0 + 1))
    monotonic.at += 20.0
    assert stage.watermark(0, 1, None) == stage.watermark(1, 1, None) == wall.at - 2.0
    stage.route(0, 1, vault_entry("request", "r-2", T0 + 5))
    assert stage.overtaken(0, T0 + 5) == [0, 1]
    assert stage.watermark(1, 1, None) == T0 + 1 - 30, "its own lines bound it again"
    monotonic.at += 20.0
    assert stage.watermark(1, 1, None) == wall.at - 2.0, "quiet again: the wall clock"


def test_a_partition_resuming_after_a_pause_takes_back_the_wall_clock_of_the_others(clocks):
    """A partition still being read when the others went quiet never vouched for the wall
    clock itself; when its lines resume after a pause, the others' bound is taken back."""
    monotonic, wall = clocks
    stage = route_stage(clocks)
    stage.route(0, 0, vault_entry("response", "r-0", T0))
    stage.route(1, 0, vault_entry("response", "r-1", T0 + 1))
    monotonic.at += 20.0
    assert stage.watermark(0, 5, None) == T0 - 30, "lines still to read: its own bound"
    assert stage.watermark(1, 1, None) == wall.at - 2.0
    stage.route(0, 1, vault_entry("request", "r-2", T0 + 5))
    assert stage.overtaken(0, T0 + 5) == [1]
    stage.route(0, 2, vault_entry("request", "r-3", T0 + 6))
    assert stage.overtaken(0, T0 + 6) == [], "only where the stream resumes"


def test_a_partition_never_written_to_vouches_for_nothing_until_the_stream_has_begun(clocks):
    """Lines of a replay into an idle group reach the workers a moment apart: a bound from
    an empty partition would let one worker's lines pass before another's older ones."""
    monotonic, wall = clocks
    stage = route_stage(clocks)
    monotonic.at += 3600
    assert stage.watermark(0, 0, None) == -INF, "idle for an hour: still nothing"
    stage.route(1, 0, vault_entry("response", "r-1", T0))
    monotonic.at += 5.0
    assert stage.watermark(0, 0, None) == -INF, "lines elsewhere, only just"
    monotonic.at += 15.0  # ``replay_idle`` after the first line
    assert stage.watermark(0, 0, None) == wall.at - 2.0, "it stays empty: the wall clock"


def test_a_new_owner_whose_committed_offset_is_at_the_end_counts_as_caught_up(clocks):
    wall = clocks[1]
    stage = route_stage(clocks)  # took the partition over, has read nothing
    assert stage.watermark(0, 50, 50) == wall.at - 2.0
    assert stage.watermark(0, 50, 40) == -INF, "ten lines to read first"
    assert stage.watermark(0, 50, None) == -INF


# -- parse stage -----------------------------------------------------------------------


@pytest.fixture
def pipeline() -> Pipeline:
    return vault_local()


def vault_local() -> Pipeline:
    """The shipped vault-local pipeline (pair timeout 60 s)."""
    return build_pipeline(load_pipeline_file(REPO / "pipelines" / "vault-local.toml"))


def test_entries_are_parsed_in_event_time_order_once_every_upstream_has_passed_them(pipeline):
    stage = ParseStage(pipeline, raw_partitions=2)
    for token, (request_id, at) in enumerate([("c", T0 + 3), ("a", T0 + 1), ("b", T0 + 2)]):
        stage.push(at, vault_entry("response", request_id, at), "raw:0", token)
    done: list[int] = []
    assert stage.release(done.append) == []
    stage.upstream.update(0, T0 + 10)
    assert stage.release(done.append) == [], "raw partition 1 may still send older lines"
    stage.upstream.update(1, T0 + 2)
    first = stage.release(done.append)
    assert [(e.event_id, e.time) for e in first] == [("a", T0 + 1), ("b", T0 + 2)]
    assert done == [1, 2]
    assert len(stage) == 1
    stage.upstream.update(1, T0 + 3)
    assert [e.event_id for e in stage.release(done.append)] == ["c"]
    assert done == [1, 2, 0]
    assert len(stage) == 0


def test_a_request_and_its_response_from_two_raw_partitions_make_one_event(pipeline):
    stage = ParseStage(pipeline, raw_partitions=2)
    stage.push(T0 + 0.5, vault_entry("response", "r-1", T0 + 0.5), "raw:1")
    stage.push(T0, vault_entry("request", "r-1", T0), "raw:0")
    stage.upstream.update(0, T0 + 1)
    stage.upstream.update(1, T0 + 1)
    events = stage.release()
    assert [(e.event_id, e.time) for e in events] == [("r-1", T0 + 0.5)]
    assert stage.flush() == [] and stage.watermark() == T0 + 1


def test_an_entry_without_a_time_is_parsed_at_once(pipeline):
    stage = ParseStage(pipeline, raw_partitions=1)
    stage.push(None, b"not json", "raw:0", 7)
    done: list[int] = []
    assert stage.release(done.append) == []
    assert done == [7]
    assert pipeline.counts["deadletters"] == 1


def test_an_unanswered_request_is_given_up_once_the_watermark_passes_the_pair_timeout(pipeline):
    """A quiet live stream: no later entry moves the parser's own clock, the watermark
    (the wall clock's, as the entries stopped) does."""
    clock = Clock(0.0)
    live = EntryProgress(clock, now=lambda: T0 + 5)
    stage = ParseStage(pipeline, raw_partitions=2, progress=live)
    stage.push(T0, vault_entry("request", "r-1", T0), "raw:0")
    stage.upstream.update(0, T0 + 1)
    stage.upstream.update(1, T0 + 1)
    assert stage.release() == []  # held by the parser for its response
    clock.at += 1  # (live, the watermark alone decides: no wall-clock wait of its own)
    stage.upstream.update(0, T0 + 59)
    stage.upstream.update(1, T0 + 59)
    assert stage.flush() == []
    assert stage.watermark() == T0, "the held request holds the stage's watermark back"
    stage.upstream.update(1, T0 + 61)
    assert stage.flush() == [], "raw partition 0 is still within the pair timeout"
    stage.upstream.update(0, T0 + 61)
    given_up = stage.flush()
    assert [(e.event_id, e.time) for e in given_up] == [("r-1", T0)]
    assert stage.watermark() == T0 + 61


def test_a_replay_that_pauses_keeps_an_unanswered_request_for_its_response(pipeline):
    """A replay's shipper pauses (a broker outage) between a request and its response: the
    quiet partitions vouch for the wall clock within seconds, yet the request waits (and
    holds the stage back) until entries have stopped for the pair timeout; the response
    coming after the pause makes one event with it, as in the local runtime."""
    clock = Clock(0.0)
    stage = ParseStage(pipeline, raw_partitions=1, progress=EntryProgress(clock))
    stage.push(T0, vault_entry("request", "r-1", T0), "raw:0")
    stage.upstream.update(0, T0 + 1)
    assert stage.release() == []
    clock.at += 20  # the pause
    stage.upstream.update(0, T0 + 30 * 86400)  # a replay of last month: the wall clock
    assert stage.flush() == [], "given up during a pause"
    assert stage.watermark() == T0
    stage.upstream.update(0, T0 + 0.5)  # the pause is over: the watermark is taken back
    stage.push(T0 + 0.5, vault_entry("response", "r-1", T0 + 0.5), "raw:0")
    stage.upstream.update(0, T0 + 2)
    events = stage.release()
    assert [(e.event_id, e.time, e.outcome) for e in events] == [("r-1", T0 + 0.5, "ok")]


def test_an_unanswered_request_is_given_up_as_other_partitions_entries_move_time_on(pipeline):
    """One entries partition goes quiet (its token is not used again) while the others'
    entries go on: their event time gives the request up, not a minute of the wall clock
    (the request holds every score stage back meanwhile)."""
    clock = Clock(0.0)
    progress = EntryProgress(clock)
    quiet = ParseStage(pipeline, raw_partitions=1, progress=progress)
    busy = ParseStage(vault_local(), raw_partitions=1, progress=progress)
    quiet.push(T0, vault_entry("request", "r-1", T0), "raw:0")
    quiet.upstream.update(0, T0 + 1)
    assert quiet.release() == []
    clock.at += 1
    busy.push(T0 + 61, vault_entry("response", "r-2", T0 + 61), "raw:0")
    quiet.upstream.update(0, T0 + 61)
    assert [e.event_id for e in quiet.flush()] == ["r-1"]


def test_a_replay_that_ends_gives_an_unanswered_request_up_after_the_pair_timeout(pipeline):
    clock = Clock(0.0)
    stage = ParseStage(pipeline, raw_partitions=1, progress=EntryProgress(clock))
    stage.push(T0, vault_entry("request", "r-1", T0), "raw:0")
    stage.upstream.update(0, T0 + 30 * 86400)
    assert stage.release() == []  # held by the parser for its response
    clock.at += 59
    assert stage.flush() == []
    clock.at += 1
    assert [e.event_id for e in stage.flush()] == ["r-1"]


# -- score stage -----------------------------------------------------------------------


def access(event_id: str, at: float, identity: str = "ent-cart") -> AccessEvent:
    return AccessEvent(
        event_id=event_id,
        time=at,
        source="vault",
        identity=identity,
        action="read",
        resource="secret/data/shop/cart/db",
        client_ip="10.1.0.5",
    )


def test_events_are_scored_in_time_then_id_order_once_the_watermark_passes(pipeline):
    stage = ScoreStage(pipeline, entries_partitions=2)
    arriving = [
        access("b", T0 + 2),
        access("z", T0 + 1, "ent-billing"),
        access("a", T0 + 1),
        access("c", T0 + 3),
    ]
    for token, event in enumerate(arriving):
        assert stage.push(event, token)
    done: list[int] = []
    stage.upstream.update(0, T0 + 2)
    assert stage.release(done.append) == [], "entries partition 1 may still send older"
    stage.upstream.update(1, T0 + 2)
    assert [s.event.event_id for s in stage.release(done.append)] == ["a", "z", "b"]
    assert done == [2, 1, 0]
    assert len(stage) == 1
    stage.upstream.update(0, T0 + 3)
    stage.upstream.update(1, T0 + 3)
    assert [s.event.event_id for s in stage.release(done.append)] == ["c"]


def test_an_event_delivered_twice_is_scored_once(pipeline):
    stage = ScoreStage(pipeline, entries_partitions=1)
    assert stage.push(access("e-1", T0))
    assert not stage.push(access("e-1", T0))
    stage.upstream.update(0, T0)
    assert len(stage.release()) == 1
    assert not stage.push(access("e-1", T0)), "redelivered after it was scored"
    assert stage.release() == []
    assert stage.duplicates == 2
    assert pipeline.scored == 1


def test_after_a_failover_events_the_state_already_applied_are_skipped(pipeline):
    first = ScoreStage(pipeline, entries_partitions=1)
    first.push(access("e-1", T0 + 1))
    first.push(access("e-2", T0 + 2))
    first.upstream.update(0, T0 + 2)
    assert len(first.release()) == 2
    state = pipeline.model.store.get("ent-cart")
    assert state is not None and state.applied == (T0 + 2, "e-2")
    events = state.events

    # A new owner of the partition, with the identity's state as the old owner wrote it,
    # reads again from the last committed offset.
    second = ScoreStage(pipeline, entries_partitions=1)
    for event in (access("e-1", T0 + 1), access("e-2", T0 + 2), access("e-3", T0 + 3)):
        assert second.push(event)
    second.upstream.update(0, T0 + 3)
    done: list[int] = []
    assert [s.event.event_id for s in second.release(done.append)] == ["e-3"]
    assert second.replayed == 2
    assert len(done) == 3, "skipped events are done with too"
    assert state.events == events + 1
    assert state.applied == (T0 + 3, "e-3")


def test_an_event_arriving_after_its_time_was_released_is_still_scored(pipeline):
    stage = ScoreStage(pipeline, entries_partitions=1)
    stage.push(access("e-5", T0 + 5))
    stage.upstream.update(0, T0 + 5)
    assert len(stage.release()) == 1
    state = pipeline.model.store.get("ent-cart")
    assert state.applied == (T0 + 5, "e-5")

    stage.push(access("e-1", T0 + 1))  # older than what was released: late, not a replay
    assert [s.event.event_id for s in stage.release()] == ["e-1"]
    assert stage.replayed == 0
    assert pipeline.counts["late"] == 1
    assert state.applied == (T0 + 5, "e-5"), "a late event does not move the state back"
