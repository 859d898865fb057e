"""The three stages of the streaming runtime as plain objects (Faust only moves records).

Each stage keeps, per partition it owns, what that partition needs: the route stage the
newest event time of each raw partition, the parse stage a parser (pairing, token
attribution), the score stage a heap of events waiting for the watermark. Watermarks flow
with the records: a stage never releases an event while an upstream partition may still
send an older one, so events reach the model in event-time order.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time as wall
from collections.abc import Callable

import orjson

from detector.event import AccessEvent
from detector.parsers.timestamps import parse_timestamp
from detector.pipeline import Pipeline, ScoredEvent

__all__ = [
    "EntryProgress",
    "ParseStage",
    "RouteStage",
    "ScoreStage",
    "WatermarkTracker",
    "routing_key",
]

INFINITY = math.inf
LIVE_WITHIN = 60.0  # seconds behind the wall clock within which a stream counts as live


def _live(newest: float, now: float, within: float) -> bool:
    """Whether a stream whose newest line is of ``newest`` is live (not a replay or a
    backlog) at wall-clock time ``now``."""
    return newest >= now - within


def routing_key(record: bytes) -> tuple[bytes, float | None]:
    """The key a raw audit line travels under, and its event time if it has one.

    A Vault call's two entries carry the same client token (or, before login, the same
    request id): keyed by it, they meet on one partition, and every use of a token with
    them. Anything else (CloudTrail, unknown, malformed) is keyed by its own id or content
    and parsed — or dead-lettered — downstream.
    """
    fast = _vault_key(record)
    if fast is not None:
        return fast
    try:
        entry = orjson.loads(record)
    except orjson.JSONDecodeError:
        return b"", None
    if not isinstance(entry, dict):
        return b"", None
    request = entry.get("request")
    if isinstance(request, dict):
        key = request.get("client_token") or request.get("id") or ""
        return str(key).encode(), _time(entry.get("time"))
    event_id = entry.get("eventID")
    if isinstance(event_id, str):
        return event_id.encode(), _time(entry.get("eventTime"))
    return b"", None


def _vault_key(record: bytes) -> tuple[bytes, float | None] | None:
    """The routing key of a line in Vault's own field order, found without decoding it.

    Vault writes ``time``, ``type``, ``auth``, ``request`` (``id`` first, ``client_token``
    further in), then ``response``: the request object's own token is the first
    ``"client_token"`` after ``"request":{`` and before ``"response"``. Anything else
    returns ``None`` and is decoded in full.
    """
    if not record.startswith(b'{"time":"'):
        return None
    start = record.find(b'"request":{')
    if start < 0:
        return None
    end = record.find(b'"response":', start)
    token = record.find(b'"client_token":"', start, end if end > 0 else len(record))
    if token > 0:
        token += 16
        key = record[token : record.find(b'"', token)]
    elif record.startswith(b'"id":"', start + 11):
        key = record[start + 17 : record.find(b'"', start + 17)]
    else:
        return None
    if b"\\" in key:
        return None
    return key, _time(record[9 : record.find(b'"', 9)].decode(errors="replace"))


def _time(value: object) -> float | None:
    try:
        return parse_timestamp(value)
    except Exception:  # noqa: BLE001 - a bad time is the parser's to report, not ours
        return None


class WatermarkTracker:
    """The lowest watermark over a fixed number of upstream sources.

    A source never heard from holds everything back (``-inf``); an idle source reports
    ``inf`` (caught up). A watermark sent before ``since`` (wall clock; by default the
    tracker's creation) is stale and not taken: it speaks of an earlier reading of the
    upstream partitions. After a failover, a restart or any rebalance, the new owners read
    them again from their committed offsets, older than what the previous owners' last
    watermarks promised (after a broker outage, the wall clock's), and a new stage that
    took those would pass the first lines it holds, then meet older ones: hundreds of
    events scored late, out of order. Owners repeat their watermarks every second, so a
    new stage waits no longer than that for fresh ones (worker clocks are taken to agree
    to well under a second, as NTP keeps them).
    """

    def __init__(self, sources: int, since: float | None = None) -> None:
        self.marks = [-INFINITY] * sources
        self.since = wall.time() if since is None else since

    def update(self, source: int, time: float, sent: float | None = INFINITY) -> None:
        """``source`` has reached ``time``, as a watermark sent at ``sent`` says (``None``:
        a broker that keeps no time stamps; taken)."""
        stale = sent is not None and sent < self.since
        if 0 <= source < len(self.marks) and not stale:
            self.marks[source] = time

    @property
    def low(self) -> float:
        return min(self.marks) if self.marks else INFINITY


class RouteStage:
    """Raw lines → keyed entries; per raw partition, the watermark it has reached.

    Lines of one raw partition are assumed in time order up to ``lateness`` seconds. A
    partition is quiet when everything in it has been read (``next offset >= highwater``)
    and nothing came for ``idle`` seconds: a live stream that pauses must not hold every
    other partition back, so a quiet partition's watermark follows the wall clock (less
    ``skew``, how far a server's clock may lag ours). It is a bound, not "nothing more
    will come": if the worker dies, its last word stays true for lines written later.
    A partition whose newest line is old (a replay or a backlog: more than ``live_within``
    behind the wall clock) must stay quiet for ``replay_idle`` instead: a shipper replaying
    old logs may pause for a moment, and the wall clock's bound would then release
    everything before the rest of the replay arrives (scored late, out of order).

    A partition never written to (end offset 0) vouches for nothing until ``replay_idle``
    after this stage routed its first line: at the start of a replay into an idle group,
    lines reach the workers' partitions a moment apart, and a bound given out before would
    let one worker's lines pass before another's older ones (several workers would then
    disagree with one). A partition that stays empty then follows the wall clock; a worker
    whose partitions all stay empty holds the others back, so every raw partition should
    receive lines (shippers spread unkeyed lines over all of them).

    A quiet partition's wall-clock bound is wrong when old lines then arrive (a replay
    after a pause, a backfill): :meth:`overtaken` tells the caller to send the partition's
    corrected watermark *before* those lines, so the stages downstream hold them back and
    sort them instead of passing them on in arrival order. The other partitions that
    vouched for the wall clock are corrected at the same moment, and whenever a partition's
    lines resume after a quiet spell: their lines of the resumed stream are on their way
    too, and until they come their bound would let this partition's lines pass theirs
    (hundreds of late events after a broker outage paused a replay).
    """

    def __init__(
        self,
        lateness: float,
        idle: float,
        skew: float = 1.0,
        clock: Callable[[], float] = wall.monotonic,
        now: Callable[[], float] = wall.time,
        replay_idle: float = 5.0,
        live_within: float = LIVE_WITHIN,
    ):
        self.lateness = lateness
        self.idle = idle
        self.skew = skew
        self.replay_idle = replay_idle
        self.live_within = live_within
        self.clock = clock
        self.now = now
        self.newest: dict[int, float] = {}
        self.next_offset: dict[int, int] = {}
        self.last_heard: dict[int, float] = {}
        self.vouched: dict[int, float] = {}  # the last watermark given out, per partition
        self.first_line: float | None = None  # when this stage routed its first line
        self.resumed = False  # whether the line routed last ended its partition's quiet

    def route(self, partition: int, offset: int, record: bytes) -> tuple[bytes, float | None]:
        """The entry's key and event time; the partition's progress is noted."""
        key, time = routing_key(record)
        clock = self.clock()
        heard = self.last_heard.get(partition)
        self.resumed = heard is not None and clock - heard >= self._quiet_time(partition)
        self.last_heard[partition] = clock
        if self.first_line is None:
            self.first_line = clock
        self.next_offset[partition] = offset + 1
        if time is not None and time > self.newest.get(partition, -INFINITY):
            self.newest[partition] = time
        return key, time

    def overtaken(self, partition: int, time: float | None) -> list[int]:
        """The partitions whose watermark must be corrected before the line just routed
        (of ``time``, from ``partition``) is passed on: the partition, if the line is older
        than its last watermark; and, if so or if the line ended the partition's quiet (a
        stream resuming), every other partition that vouched for the wall clock beyond its
        own lines and beyond this line. Those are taken for heard from now: each waits its
        quiet time again before vouching for the wall clock anew."""
        if time is None:
            return []
        own = time < self.vouched.get(partition, -INFINITY)
        if not (own or self.resumed):
            return []
        beyond = [
            other
            for other, mark in self.vouched.items()
            if other != partition and mark > max(time, self.newest.get(other, -INFINITY))
        ]
        for other in beyond:
            self.last_heard[other] = self.clock()
        return ([partition] if own else []) + beyond

    def forget(self, partition: int) -> None:
        """The partition was revoked: whoever reads it next starts at its committed offset."""
        self.newest.pop(partition, None)
        self.next_offset.pop(partition, None)
        self.last_heard.pop(partition, None)
        self.vouched.pop(partition, None)

    def watermark(self, partition: int, highwater: int | None, committed: int | None) -> float:
        """``highwater``: the partition's end offset as the consumer knows it (None: not
        yet); ``committed``: the offset committed for it (a new owner starts there)."""
        mark = self._watermark(partition, highwater, committed)
        self.vouched[partition] = mark
        return mark

    def _watermark(self, partition: int, highwater: int | None, committed: int | None) -> float:
        if highwater is None:
            return -INFINITY  # we do not know what is in it yet
        if highwater == 0:  # nothing ever written: wait for the stream to begin
            if self.first_line is None or self.clock() - self.first_line < self.replay_idle:
                return -INFINITY
        read = max(self.next_offset.get(partition, 0), committed or 0)
        newest = self.newest.get(partition, -INFINITY)
        heard = self.last_heard.get(partition)
        if read >= highwater:
            silent = INFINITY if heard is None else self.clock() - heard
            if silent >= self._quiet_time(partition):
                return max(newest, self.now() - self.skew)
        return newest - self.lateness

    def _quiet_time(self, partition: int) -> float:
        """How long a partition must go unheard to count as quiet: ``idle`` in a live
        stream, ``replay_idle`` in a replay or a backlog (its newest line is old)."""
        live = _live(self.newest.get(partition, -INFINITY), self.now(), self.live_within)
        return self.idle if live else self.replay_idle


class EntryProgress:
    """The newest entry time the parse stages of a worker have taken, and when an entry
    last came (``clock``: monotonic): how far the entries themselves have brought event
    time, whatever the watermarks vouch for. Shared by the worker's parse stages, since
    one partition's entries may pause while the others' go on."""

    def __init__(
        self,
        clock: Callable[[], float] = wall.monotonic,
        now: Callable[[], float] = wall.time,
        live_within: float = LIVE_WITHIN,
    ) -> None:
        self.clock = clock
        self.now = now
        self.live_within = live_within
        self.newest = -INFINITY
        self.last_entry = clock()

    def saw(self, time: float) -> None:
        if time > self.newest:
            self.newest = time
        self.last_entry = self.clock()

    def bound(self, timeout: float) -> float:
        """How far event time may be taken to have come when giving requests up: in a
        replay (the newest entry is old) whose entries came within ``timeout`` wall
        seconds, the newest entry's time; otherwise as far as the watermarks say (inf)."""
        replay = not _live(self.newest, self.now(), self.live_within)
        recent = self.clock() - self.last_entry < timeout
        return self.newest if replay and recent else INFINITY


class ParseStage:
    """Keyed entries of one partition → events, parsed in event-time order.

    Entries wait until the watermark over every raw partition has passed them, so a
    request meets its response in order and a token is known before it is reused — as in
    the local runtime, which reads the log in order. ``pipeline`` is used for parsing only.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        raw_partitions: int,
        progress: EntryProgress | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.upstream = WatermarkTracker(raw_partitions)
        self.progress = progress or EntryProgress()
        self._heap: list[tuple[float, int, bytes, str, int]] = []
        self._sequence = itertools.count()

    def push(self, time: float | None, record: bytes, origin: str, token: int = 0) -> None:
        """Hold an entry (``time`` from the route stage; ``None``: parse it at once)."""
        moment = -INFINITY if time is None else time
        heapq.heappush(self._heap, (moment, next(self._sequence), record, origin, token))
        self.progress.saw(moment)

    def release(self, done: Callable[[int], None] | None = None) -> list[AccessEvent]:
        """Parse every held entry the watermark has passed, oldest first; ``done(token)``
        is told of each entry parsed."""
        low, heap, events = self.upstream.low, self._heap, []
        parse = self.pipeline.parse
        while heap and heap[0][0] <= low:
            _, _, record, origin, token = heapq.heappop(heap)
            events += parse(record, origin)
            if done is not None:
                done(token)
        return events

    def flush(self) -> list[AccessEvent]:
        """Requests whose response did not come in time: by the upstream watermark, which
        moves on in a quiet stream too, where the parser's own event clock stands still.

        In a replay, not beyond the newest entry (of any of the worker's parse stages),
        though, until entries have stopped coming for the pair timeout in wall seconds. A
        quiet replay's watermark leaps to the wall clock within seconds, and a shipper may
        only have paused (a broker outage): a request given up then would meet its
        response after the pause as a second event, dropped, and the request alone would
        have been scored and learnt from (risks then differed from the local runtime's)."""
        timeout = getattr(self.pipeline.parser, "pair_timeout", 0.0)
        return self.pipeline.flush(now=min(self.upstream.low, self.progress.bound(timeout)))

    def watermark(self) -> float:
        """Everything older has been sent: no upstream will send older, nothing older waits."""
        held = getattr(self.pipeline.parser, "oldest_pending", None)
        oldest = held() if held is not None else None
        low = self.upstream.low
        return low if oldest is None else min(low, oldest)

    def __len__(self) -> int:
        return len(self._heap)


class ScoreStage:
    """Events of one identity partition, scored in (event time, event id) order.

    Events wait in a heap until the watermark over every parse partition has passed them;
    one that arrives after its time was released is scored at once (the pipeline counts it
    as late). Kafka delivers at least once: an event seen lately is dropped, and one that
    its identity's state has already applied (replayed after a failover, from before the
    state was last written) is skipped, so nothing is learned twice.
    """

    def __init__(self, pipeline: Pipeline, entries_partitions: int, memory: int = 200_000) -> None:
        self.pipeline = pipeline
        self.upstream = WatermarkTracker(entries_partitions)
        self._heap: list[tuple[float, str, int, AccessEvent, int, bool]] = []
        self._sequence = itertools.count()
        self._released: tuple[float, str] = (-INFINITY, "")
        self._seen: dict[str, None] = {}
        self.memory = memory
        self.duplicates = 0
        self.replayed = 0

    def push(self, event: AccessEvent, token: int = 0) -> bool:
        """Hold an event; ``False`` (and nothing held) for a duplicate of one seen lately."""
        seen = self._seen
        if event.event_id in seen:
            self.duplicates += 1
            return False
        seen[event.event_id] = None
        if len(seen) > self.memory:
            del seen[next(iter(seen))]
        late = (event.time, event.event_id) < self._released
        item = (event.time, event.event_id, next(self._sequence), event, token, late)
        heapq.heappush(self._heap, item)
        return True

    def release(self, done: Callable[[int], None] | None = None) -> list[ScoredEvent]:
        """Score every event the watermark has passed, oldest first; ``done(token)`` is
        told of each event scored (or skipped)."""
        low = self.upstream.low
        heap, scored = self._heap, []
        states = self.pipeline.model.store
        while heap and heap[0][0] <= low:
            time, event_id, _, event, token, late = heapq.heappop(heap)
            key = (time, event_id)
            state = states.get(event.identity)
            if not late and state is not None and key <= state.applied:
                self.replayed += 1
            else:
                result = self.pipeline.score(event)
                if result is not None:
                    scored.append(result)
                    state = state or states.get(event.identity)
                    if state is not None and key > state.applied:
                        state.applied = key
            if key > self._released:
                self._released = key
            if done is not None:
                done(token)
        return scored

    def __len__(self) -> int:
        return len(self._heap)
