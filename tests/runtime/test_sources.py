"""Sources: files, directories, .gz, stdin, whole-document files, and followed files."""

from __future__ import annotations

import gzip
import io
import os
import threading
from pathlib import Path

import orjson
import pytest

from detector.runtime.sources import IDLE, STDIN, expand, follow, read_all, total_bytes

from .conftest import POLL, eventually


def lines(*records: str) -> bytes:
    return b"".join(r.encode() + b"\n" for r in records)


def normal(record: tuple[bytes, object]) -> tuple[bytes, str]:
    """A record without its line ending, and its origin as ``file:line``.

    Whether a source keeps a line's newline (the parser does not mind) and how it packs
    the origin are its own business; what a record holds and where it came from are not.
    """
    raw, origin = record
    if isinstance(origin, tuple):
        origin = f"{origin[0]}:{origin[1]}"
    return raw.strip(), origin


def read(paths: list[str]) -> list[tuple[bytes, str]]:
    return [normal(record) for record in read_all(paths)]


# -- reading to the end ---------------------------------------------------------------------


def test_file_is_read_line_by_line_with_origins(tmp_path):
    path = tmp_path / "audit.log"
    path.write_bytes(lines('{"n": 1}', '{"n": 2}'))
    assert read([str(path)]) == [(b'{"n": 1}', f"{path}:1"), (b'{"n": 2}', f"{path}:2")]


def test_blank_lines_and_line_endings_are_skipped_but_counted_in_origins(tmp_path):
    path = tmp_path / "audit.log"
    path.write_bytes(b'\n{"n": 1}\r\n\n   \n{"n": 2}\n\n')
    assert read([str(path)]) == [(b'{"n": 1}', f"{path}:2"), (b'{"n": 2}', f"{path}:5")]


def test_empty_file_has_no_records(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    assert read([str(path)]) == []


def test_malformed_line_is_a_record_like_any_other(tmp_path):
    """Judging records is the parser's job: a broken line reaches it (and the dead letters)."""
    path = tmp_path / "audit.log"
    path.write_bytes(lines('{"n": 1}', '{"n": 2, "cut', '{"n": 3}'))
    assert [r for r, _ in read([str(path)])] == [b'{"n": 1}', b'{"n": 2, "cut', b'{"n": 3}']


def test_directory_is_read_in_name_order_skipping_hidden_files(tmp_path):
    for name in ("b.log", "a.log", "sub/c.log", ".hidden.log", ".cache/d.log"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(lines(f'{{"file": "{name}"}}'))
    assert expand([str(tmp_path)]) == [str(tmp_path / n) for n in ("a.log", "b.log", "sub/c.log")]
    files = [orjson.loads(r)["file"] for r, _ in read(expand([str(tmp_path)]))]
    assert files == ["a.log", "b.log", "sub/c.log"]


def test_directory_inside_a_hidden_directory_is_still_read(tmp_path):
    """Only what is hidden below the given directory is skipped, not the directory itself."""
    logs = tmp_path / ".local" / "vault"
    logs.mkdir(parents=True)
    (logs / "audit.log").write_bytes(lines("{}"))
    assert expand([str(logs)]) == [str(logs / "audit.log")]


def test_sources_keep_their_order_and_missing_one_is_named(tmp_path):
    first, second = tmp_path / "z.log", tmp_path / "a.log"
    first.write_bytes(lines("{}"))
    second.write_bytes(lines("{}"))
    assert expand([str(first), STDIN, str(second)]) == [str(first), STDIN, str(second)]
    with pytest.raises(FileNotFoundError, match="absent.log"):
        expand([str(tmp_path / "absent.log")])


def test_gzip_files_are_read_like_plain_ones(tmp_path):
    plain, packed = tmp_path / "audit.log", tmp_path / "audit.log.1.gz"
    content = lines(*(f'{{"n": {i}}}' for i in range(50)))
    plain.write_bytes(content)
    packed.write_bytes(gzip.compress(content))
    assert [r for r, _ in read([str(packed)])] == [r for r, _ in read([str(plain)])]


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    path = tmp_path / "rotated-without-suffix"
    path.write_bytes(gzip.compress(lines('{"n": 1}')))
    assert read([str(path)]) == [(b'{"n": 1}', f"{path}:1")]


def test_stdin_is_read_line_by_line(monkeypatch):
    class Stdin:
        buffer = io.BytesIO(lines('{"n": 1}', "", '{"n": 2}'))

    monkeypatch.setattr("sys.stdin", Stdin())
    assert read([STDIN]) == [(b'{"n": 1}', "stdin:1"), (b'{"n": 2}', "stdin:3")]


def cloudtrail_document() -> dict:
    return {
        "Records": [
            {"eventID": f"e{i}", "eventName": "GetSecretValue", "eventTime": "2026-11-02T09:00:00Z"}
            for i in range(3)
        ]
    }


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gz"])
def test_pretty_printed_cloudtrail_file_is_read_whole(tmp_path, packed):
    document = cloudtrail_document()
    content = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    assert content.count(b"\n") > 3
    path = tmp_path / ("trail.json.gz" if packed else "trail.json")
    path.write_bytes(gzip.compress(content) if packed else content)
    ((record, origin),) = read([str(path)])
    assert orjson.loads(record) == document
    assert origin == f"{path}:1"


def test_one_line_cloudtrail_file_is_one_record(tmp_path):
    path = tmp_path / "trail.json"
    path.write_bytes(orjson.dumps(cloudtrail_document()))
    ((record, _),) = read([str(path)])
    assert orjson.loads(record) == cloudtrail_document()


def test_progress_reports_every_byte_once(tmp_path):
    files = [tmp_path / "a.log", tmp_path / "b.log.gz", tmp_path / "c.json"]
    files[0].write_bytes(lines(*(f'{{"n": {i}}}' for i in range(100))))
    files[1].write_bytes(gzip.compress(lines(*(f'{{"n": {i}}}' for i in range(100)))))
    files[2].write_bytes(orjson.dumps(cloudtrail_document(), option=orjson.OPT_INDENT_2))
    paths = [str(p) for p in files]
    reported: list[int] = []
    records = [normal(r) for r in read_all(paths, reported.append)]
    assert len(records) == 201
    assert total_bytes(paths) == sum(p.stat().st_size for p in files)
    assert sum(reported) == total_bytes(paths)


# -- following ------------------------------------------------------------------------------


class Follower:
    """Runs :func:`follow` in a thread, keeping what it yields."""

    def __init__(self, paths: list[str]) -> None:
        self.stop = threading.Event()
        self.records: list[tuple[bytes, str]] = []
        self.idle = 0
        self._thread = threading.Thread(target=self._run, args=(paths,), daemon=True)
        self._thread.start()

    def _run(self, paths: list[str]) -> None:
        for item in follow(paths, POLL, self.stop):
            if item == IDLE:
                self.idle += 1
            else:
                self.records.append(normal(item))

    def texts(self) -> list[bytes]:
        return [r for r, _ in self.records]

    def has(self, *texts: bytes) -> bool:
        return self.texts()[-len(texts) :] == list(texts)

    def close(self) -> None:
        self.stop.set()
        self._thread.join(5.0)
        assert not self._thread.is_alive()


@pytest.fixture
def following(reader_threads_end):
    followers: list[Follower] = []

    def start(paths: list[Path | str]) -> Follower:
        followers.append(Follower([str(p) for p in paths]))
        return followers[-1]

    yield start
    for follower in followers:
        follower.close()


def append(path: Path, content: bytes) -> None:
    with open(path, "ab") as f:
        f.write(content)


def test_follow_reads_the_file_then_picks_up_appended_lines(tmp_path, following):
    path = tmp_path / "audit.log"
    path.write_bytes(lines("one", "two"))
    follower = following([path])
    assert eventually(lambda: follower.texts() == [b"one", b"two"])
    append(path, lines("three"))
    assert eventually(lambda: follower.has(b"three"))
    assert follower.records[-1] == (b"three", f"{path}:3")


def test_follow_waits_for_the_end_of_a_partly_written_line(tmp_path, following):
    path = tmp_path / "audit.log"
    path.write_bytes(b"")
    follower = following([path])
    append(path, b'{"half": ')
    assert eventually(lambda: follower.idle >= 2)
    assert follower.records == []
    append(path, b'"done"}\n')
    assert eventually(lambda: follower.texts() == [b'{"half": "done"}'])


def test_follow_yields_idle_when_quiet(tmp_path, following):
    path = tmp_path / "audit.log"
    path.write_bytes(lines("only"))
    follower = following([path])
    assert eventually(lambda: follower.texts() == [b"only"] and follower.idle >= 3)


def test_follow_survives_rotation_without_losing_the_old_files_tail(tmp_path, following):
    path = tmp_path / "audit.log"
    path.write_bytes(lines("old-1"))
    follower = following([path])
    assert eventually(lambda: follower.texts() == [b"old-1"])
    append(path, lines("old-2"))  # written just before the rotation
    os.rename(path, tmp_path / "audit.log.1")
    path.write_bytes(lines("new-1"))
    assert eventually(lambda: follower.texts() == [b"old-1", b"old-2", b"new-1"])
    assert follower.records[-1] == (b"new-1", f"{path}:1")
    append(path, lines("new-2"))
    assert eventually(lambda: follower.has(b"new-2"))


def test_follow_waits_for_a_file_that_appears_later(tmp_path, following):
    path = tmp_path / "audit.log"
    follower = following([path])
    assert eventually(lambda: follower.idle >= 2)
    path.write_bytes(lines("first"))
    assert eventually(lambda: follower.texts() == [b"first"])


def test_follow_rereads_a_truncated_file_from_the_start(tmp_path, following):
    path = tmp_path / "audit.log"
    path.write_bytes(lines("a long line before the truncation", "another long line"))
    follower = following([path])
    assert eventually(lambda: len(follower.records) == 2)
    path.write_bytes(lines("short"))  # truncated in place, same inode
    assert eventually(lambda: follower.has(b"short"))
    assert follower.records[-1] == (b"short", f"{path}:1")


def test_follow_reads_several_files_and_stdin(tmp_path, following, monkeypatch):
    class Stdin:
        buffer = io.BytesIO(lines("from stdin"))

    monkeypatch.setattr("sys.stdin", Stdin())
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_bytes(lines("from a"))
    second.write_bytes(lines("from b"))
    follower = following([first, STDIN, second])
    assert eventually(lambda: sorted(follower.texts()) == [b"from a", b"from b", b"from stdin"])
    assert eventually(lambda: follower.idle >= 1)  # stdin at its end is quiet, not over
    append(second, lines("more b"))
    assert eventually(lambda: follower.has(b"more b"))


def test_follow_ends_when_stopped(tmp_path, following):
    path = tmp_path / "audit.log"
    path.write_bytes(lines("x"))
    follower = following([path])
    assert eventually(lambda: follower.texts() == [b"x"])
    follower.close()  # joins the thread: the generator has returned
