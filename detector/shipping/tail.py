"""Following an audit log file to the raw topic, across rotations and restarts.

The position of the last line the broker acknowledged is saved (with the file's inode) in
an offsets file; a restart resumes there. When the file was rotated meanwhile, the rest of
the rotated file (found by its inode in the same folder) is shipped first.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from detector.shipping.producer import LineProducer

__all__ = ["FileShipper"]


class FileShipper:
    """Ships the lines of ``path`` through ``producer``; remembers progress in ``offsets``.

    Parameters
    ----------
    poll
        Seconds between looks at a file that has no new line.
    follow
        Keep following the file (otherwise stop at its end).
    """

    def __init__(
        self,
        path: Path,
        producer: LineProducer,
        offsets: Path,
        poll: float = 0.2,
        follow: bool = True,
    ) -> None:
        self.path = path
        self.producer = producer
        self.offsets = offsets
        self.poll = poll
        self.follow = follow
        self.acked: tuple[int, int] | None = self._load()  # (inode, position) safely shipped
        self._stop = asyncio.Event()
        self._truncated = False  # the file was emptied in place: read it again from its start
        producer.on_acked = self._on_acked

    def stop(self) -> None:
        self._stop.set()

    def _load(self) -> tuple[int, int] | None:
        try:
            saved = json.loads(self.offsets.read_text())
            return int(saved["inode"]), int(saved["position"])
        except (OSError, ValueError, KeyError):
            return None

    def _on_acked(self, token: tuple[int, int]) -> None:
        self.acked = token

    def save(self) -> None:
        """Write the acknowledged position (atomically)."""
        if self.acked is None:
            return
        inode, position = self.acked
        self.offsets.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.offsets.with_name(self.offsets.name + ".tmp")
        temporary.write_text(
            json.dumps({"path": str(self.path), "inode": inode, "position": position})
        )
        os.replace(temporary, self.offsets)

    async def run(self) -> None:
        saver = asyncio.create_task(self._save_periodically())
        try:
            await self._ship_rotated_remainder()
            while not self._stop.is_set():
                await self._ship_current()
                if not self.follow:
                    break
        finally:
            await self.producer.drain()
            saver.cancel()
            self.save()

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.save()

    async def _ship_rotated_remainder(self) -> None:
        """After a restart: finish the file the saved offset points into, if it moved."""
        if self.acked is None:
            return
        inode, position = self.acked
        current = self._inode(self.path)
        if current == inode:
            return
        for candidate in sorted(self.path.parent.glob(self.path.name + "*")):
            if self._inode(candidate) == inode and candidate.stat().st_size > position:
                with open(candidate, "rb") as stream:
                    stream.seek(position)
                    await self._ship_stream(stream, inode, until_eof=True)
                return

    async def _ship_current(self) -> None:
        while not self.path.exists():
            if self._stop.is_set() or not self.follow:
                return
            await asyncio.sleep(self.poll)
        with open(self.path, "rb") as stream:
            status = os.fstat(stream.fileno())
            inode = status.st_ino
            if self._truncated:
                self._truncated = False  # what it holds now was written after the truncation
            elif self.acked is not None and self.acked[0] == inode:
                # Shorter than the saved position: truncated meanwhile, all of it is new.
                stream.seek(self.acked[1] if self.acked[1] <= status.st_size else 0)
            await self._ship_stream(stream, inode, until_eof=not self.follow)

    async def _ship_stream(self, stream, inode: int, until_eof: bool) -> None:
        partial = b""
        while not self._stop.is_set():
            line = stream.readline()
            if line.endswith(b"\n"):
                line = partial + line
                partial = b""
                if line.strip():
                    await self.producer.put(line.rstrip(b"\r\n"), (inode, stream.tell()))
                continue
            partial += line
            if until_eof:
                if partial.strip():
                    await self.producer.put(partial, (inode, stream.tell()))
                return
            rotation = self._rotation(inode, stream.tell())
            if rotation == "truncated":
                self._truncated = True
                return  # the caller reads the file again from its start
            if rotation == "moved":
                until_eof = True  # what the writer added since our last read, then the new file
                continue
            await asyncio.sleep(self.poll)

    def _rotation(self, inode: int, position: int) -> str | None:
        """``"moved"`` (renamed and replaced), ``"truncated"`` (emptied in place) or None."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return None  # renamed, no new file yet: the writer still writes to this one
        if status.st_ino != inode:
            # Until the writer reopens the path (Vault does on SIGHUP, after logrotate's
            # ``create``) it goes on writing to the renamed file: that one is finished only
            # once the new one has something in it.
            return "moved" if status.st_size > 0 else None
        return "truncated" if status.st_size < position else None

    @staticmethod
    def _inode(path: Path) -> int | None:
        try:
            return path.stat().st_ino
        except FileNotFoundError:
            return None
