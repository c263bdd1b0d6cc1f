"""Real processes and databases for tests that need several workers, signals or crashes."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL

PG_BIN = Path(os.environ.get("REFLEXE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(
    url: str, port: int, workers: int = 1, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `reflexe serve` on `url` in its own process group and wait until it is ready."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", str(workers)],
        # Development mode: the tests call from loopback without a key, and unthrottled.
        env={
            **os.environ,
            "REFLEXE_DATABASE_URL": url,
            "REFLEXE_DEV_MODE": "true",
            "REFLEXE_RATE_LIMIT": "",
            "REFLEXE_LOG_LEVEL": "warning",
            **(env or {}),
        },
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("the server did not start")


@contextmanager
def running_server(url: str, workers: int = 1, env: dict[str, str] | None = None) -> Iterator[str]:
    """A server on `url` for the block, as its base URL; stopped with SIGTERM afterwards."""
    port = free_port()
    process = start_server(url, port, workers, env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def fresh_postgres(name: str) -> str:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


class PostgresCluster:
    """A PostgreSQL server of a test's own, on 127.0.0.1:`port`, which it may stop and start.

    PostgreSQL refuses to run as root, so as root its commands run as the `postgres` user.
    """

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.data = root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        """Create the cluster: trust authentication, TCP on 127.0.0.1 only, no fsync."""
        options = ["-U", PG_USER, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]
        self._run("initdb", "-D", self.data, *options, "--no-instructions")
        # fsync=off is safe for this: an immediate stop kills the server, not the machine,
        # so the kernel still holds every write. synchronous_commit stays on: a commit is
        # acknowledged only once its WAL is written, which is what the tests rely on.
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",
            "full_page_writes": "off",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run("pg_ctl", "start", "-w", "-t", "30", "-D", self.data, "-l", self.root / "log")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; `immediate` is a crash: no checkpoint, clients cut off."""
        self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", self.data)

    @contextmanager
    def stopped(self, mode: str = "immediate") -> Iterator[None]:
        """Stop the server for the block, then start it again on the same port."""
        self.stop(mode)
        try:
            yield
        finally:
            self.start()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Freeze the server's listener: open connections keep working, new ones get no answer."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def _run(self, program: str, *args: str | Path) -> None:
        command = [str(PG_BIN / program), *map(str, args)]
        user = PG_USER if os.geteuid() == 0 else None
        done = subprocess.run(command, user=user, cwd=self.root, capture_output=True, text=True)
        if done.returncode != 0:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            pytest.fail(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}{tail}")


@contextmanager
def private_postgres() -> Iterator[PostgresCluster]:
    """A running PostgreSQL cluster in a temporary directory, removed afterwards.

    Fails, rather than skips, when PostgreSQL is not installed: a skipped outage test
    would look like a passing one.
    """
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL binaries not found in {PG_BIN}; set REFLEXE_TEST_PG_BIN.")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(PG_USER)
        except KeyError:
            pytest.fail(f"running as root needs a '{PG_USER}' user to run PostgreSQL as.")
    # Not under pytest's tmp_path: its parents are private to root.
    root = Path(tempfile.mkdtemp(prefix="reflexe-pg-"))
    try:
        if os.geteuid() == 0:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        cluster = PostgresCluster(root, free_port())
        cluster.init()
        cluster.start()
        try:
            yield cluster
        finally:
            if (cluster.data / "postmaster.pid").exists():
                cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
