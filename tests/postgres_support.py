"""A real, throw-away PostgreSQL server for the tests: :class:`PostgresServer`.

The cluster is made with the server's own tools (``initdb``, then ``pg_ctl start``), as described in
the PostgreSQL manual, "Creating a Database Cluster" and "pg_ctl" (https://www.postgresql.org/docs/15/).
It lives in a temporary directory, listens on 127.0.0.1 on a free port (and on a Unix socket in that
directory only), requires a password over TCP (SCRAM), and is stopped and deleted by :meth:`stop`.

The binaries are found with ``pg_config --bindir`` (Debian's ``postgresql`` package puts them in
``/usr/lib/postgresql/<major>/bin``; its ``/usr/bin`` wrappers and any ``/usr/local/bin`` symlinks are
not relied on), else in the newest ``/usr/lib/postgresql/*/bin``.

``initdb`` refuses to run as root, so when the tests run as root the cluster belongs to the
``postgres`` system user (the Debian package creates it): the temporary directory is chowned to it
and the server tools run through ``runuser -u postgres --``.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import List, Optional

#: the superuser of the throw-away cluster, and its password (SCRAM over TCP)
SUPERUSER = "otel_genai"
PASSWORD = "otel-genai-test"
_SERVER_USER = "postgres"


def postgres_bindir() -> Path:
    """The directory of ``initdb`` / ``pg_ctl``: ``pg_config --bindir``, else the newest
    ``/usr/lib/postgresql/<major>/bin``. Raises ``RuntimeError`` when neither has ``initdb``."""
    candidates: List[str] = []
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        candidates.append(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    raise RuntimeError(
        "PostgreSQL server binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin):"
        " install the Debian package 'postgresql' (dev/test does)"
    )


def _major(path: str) -> int:
    part = Path(path).parent.name
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One throw-away PostgreSQL cluster (see the module docstring).

    ``start()`` runs ``initdb`` and ``pg_ctl start -w``; ``uri(dbname)`` is a ``postgresql://`` URI
    for a database of it; ``create_database()`` makes a fresh empty database and returns its URI;
    ``stop()`` stops the server (``-m immediate``) and removes the directory; it is idempotent and
    also registered with :mod:`atexit`, so an interrupted session does not leave a server running.

    Attributes: ``host`` (``"127.0.0.1"``), ``port`` (int), ``directory`` (the cluster's temp dir).

    Raises ``RuntimeError`` from ``start()`` when the server tools fail (with their output).
    """

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.host = "127.0.0.1"
        self.port = 0
        self.directory: Optional[Path] = None
        self._as_root = os.geteuid() == 0
        self._counter = 0
        self._lock = threading.Lock()
        self._running = False

    # --- life cycle ---------------------------------------------------------------------------

    def start(self, *, durable: bool = False) -> "PostgresServer":
        """``initdb`` and start the server. ``durable=False`` (the tests): ``fsync=off``, fast, for a
        cluster no test expects to survive an OS crash; ``durable=True`` (benchmarks): ``fsync`` on,
        ``synchronous_commit=off``, the durability of SQLite's WAL with ``synchronous=NORMAL``
        (a commit survives the application's crash, the last ones may be lost with the OS)."""
        self.directory = Path(tempfile.mkdtemp(prefix="otel-genai-pg-"))
        data = self.directory / "data"
        pwfile = self.directory / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self._as_root:
            entry = pwd.getpwnam(_SERVER_USER)
            for path in (self.directory, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}", "-E", "UTF8",
            "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
        )
        atexit.register(self.stop)
        # fsync off for tests: none survives a crash of the server itself, and it is much faster
        options = (
            f"-c listen_addresses={self.host} -c unix_socket_directories={self.directory}"
            " -c synchronous_commit=off -c max_connections=200"
            + ("" if durable else " -c fsync=off -c full_page_writes=off")
        )
        for attempt in range(5):
            self.port = free_port()
            try:
                self._run("pg_ctl", "-D", str(data), "-w", "-t", "60", "-l", str(self.directory / "server.log"),
                          "-o", f"{options} -p {self.port}", "start")
                self._running = True
                return self
            except RuntimeError:
                if attempt == 4:
                    raise
        return self

    def stop(self) -> None:
        """Stop the server and delete its directory (idempotent)."""
        with self._lock:
            if self.directory is None:
                return
            directory, self.directory = self.directory, None
            try:
                if self._running:
                    self._running = False
                    self._run("pg_ctl", "-D", str(directory / "data"), "-m", "immediate", "-w", "stop")
            finally:
                shutil.rmtree(directory, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self._as_root:
            command = ["runuser", "-u", _SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if done.returncode != 0:
            log = ""
            if self.directory is not None and (self.directory / "server.log").exists():
                log = (self.directory / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}")

    # --- databases ----------------------------------------------------------------------------

    def uri(self, dbname: str = "postgres", *, password: bool = True) -> str:
        """``postgresql://otel_genai:<password>@127.0.0.1:<port>/<dbname>``."""
        auth = f"{SUPERUSER}:{PASSWORD}" if password else SUPERUSER
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def create_database(self, prefix: str = "t") -> str:
        """Create a fresh, empty database and return its URI."""
        import psycopg

        with self._lock:
            self._counter += 1
            name = f"{prefix}_{os.getpid()}_{self._counter}"
        with psycopg.connect(self.uri(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.uri(name)

    def drop_database(self, uri: str) -> None:
        """Drop the database of ``uri`` (closing its other connections first)."""
        import psycopg

        name = uri.rsplit("/", 1)[1]
        with psycopg.connect(self.uri(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


__all__ = ["PASSWORD", "SUPERUSER", "PostgresServer", "free_port", "postgres_bindir"]


# --- both backends: what a test reads or holds beside the adapter --------------------------------


def is_postgres(uri: str) -> bool:
    """``uri`` names a PostgreSQL store (``postgresql://`` / ``postgres://``)."""
    return str(uri).lower().startswith(("postgresql://", "postgres://"))


def sqlite_file(uri: str) -> str:
    """The file of a ``sqlite:///abs/path.db`` URI (a plain path is returned as is)."""
    from otel_genai.store.sqlite import uri_to_path

    return str(uri_to_path(uri))


def query(uri: str, sql: str, params: tuple = ()) -> list:
    """Rows of ``sql`` (``?`` placeholders) run on the store's database itself, outside the adapter:
    with :mod:`sqlite3` for a SQLite URI or path, with psycopg for a PostgreSQL URI."""
    if is_postgres(uri):
        import psycopg

        with psycopg.connect(uri) as conn:
            return [tuple(row) for row in conn.execute(sql.replace("?", "%s"), params).fetchall()]
    import sqlite3

    conn = sqlite3.connect(sqlite_file(uri))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


class WriteLock:
    """Another client holding the store's write lock until :meth:`release`; readers still read:
    ``BEGIN EXCLUSIVE`` on a SQLite file (in WAL mode), ``LOCK TABLE traces IN EXCLUSIVE MODE`` in an
    open transaction on PostgreSQL (it conflicts with writes only:
    https://www.postgresql.org/docs/15/explicit-locking.html#LOCKING-TABLES)."""

    def __init__(self, uri: str) -> None:
        if is_postgres(uri):
            import psycopg

            self._conn = psycopg.connect(uri)
            self._conn.execute("LOCK TABLE traces IN EXCLUSIVE MODE")
        else:
            import sqlite3

            self._conn = sqlite3.connect(sqlite_file(uri), isolation_level=None)
            self._conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self._conn.rollback()
        self._conn.close()


def store_env(uri: str) -> dict:
    """The environment naming the store ``uri`` for a program: ``OTEL_GENAI_STORE_PATH=<file>`` for
    SQLite (the embedded default's own variable), ``OTEL_GENAI_STORE_URI=<uri>`` for PostgreSQL."""
    if is_postgres(uri):
        return {"OTEL_GENAI_STORE_URI": uri}
    return {"OTEL_GENAI_STORE_PATH": sqlite_file(uri)}
