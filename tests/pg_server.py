"""A throw-away PostgreSQL server for the tests (and for trying the SQL source by hand).

:func:`start_server` initialises a cluster in a fresh temporary folder, starts
it on ``127.0.0.1`` and a free high port with trust authentication and no
durability (``fsync``, ``synchronous_commit`` and ``full_page_writes`` off:
nothing here needs to survive a crash), creates a database and returns a
:class:`PostgresServer` whose :meth:`~PostgresServer.stop` tears it all down.

``initdb`` and ``postgres`` refuse to run as root: as root the commands run as
the ``postgres`` system user (``runuser -u postgres --``) in a folder owned by
that user; as any other user they run as that user.

The binaries are looked up in ``$CRMTOOLS_PG_BIN``, then the newest
``/usr/lib/postgresql/<version>/bin`` (the Debian/Ubuntu layout), then
``PATH``. :func:`unavailable_reason` says why a server cannot be started here
(tests skip with that reason).

By hand or in a CI script::

    python tests/pg_server.py > pg.env &   # writes "export CRMTOOLS_TEST_PG_URL=...", serves until
    ...                                    # Ctrl-C or kill (which remove the cluster)
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "find_binaries", "start_server", "unavailable_reason"]

DATABASE = "crmtools_test"
_SYSTEM_USER = "postgres"


@dataclass
class PostgresServer:
    """A running throw-away server.

    Attributes
    ----------
    url : str
        SQLAlchemy URL of the test database (``postgresql+psycopg://postgres@127.0.0.1:<port>/crmtools_test``).
    port : int
        TCP port on 127.0.0.1.
    folder : pathlib.Path
        Temporary folder holding the cluster and its log; removed by :meth:`stop`.
    """

    url: str
    port: int
    folder: Path
    _bin: Path
    _as_user: list[str]

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        data = self.folder / "data"
        if data.exists():
            subprocess.run(
                [*self._as_user, str(self._bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


def find_binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``createdb``, or None."""
    candidates = []
    if os.environ.get("CRMTOOLS_PG_BIN"):
        candidates.append(Path(os.environ["CRMTOOLS_PG_BIN"]))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.name.split(".")],
    )
    candidates += [Path(p) for p in reversed(versions)]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if all((folder / name).exists() for name in ("initdb", "pg_ctl", "createdb", "postgres")):
            return folder
    return None


def _as_user() -> list[str] | None:
    """Command prefix to run the server binaries: runuser as root, nothing otherwise; None when impossible."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", _SYSTEM_USER, "--"] if runuser else None


def unavailable_reason() -> str | None:
    """Why no throw-away server can be started here, or None when it can."""
    if find_binaries() is None:
        return (
            "PostgreSQL server binaries not found (install the Debian package 'postgresql', "
            "set CRMTOOLS_PG_BIN, or set CRMTOOLS_TEST_PG_URL to an existing server)"
        )
    if _as_user() is None:
        return "running as root without a 'postgres' system user or runuser: initdb refuses to run as root"
    return None


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(*, database: str = DATABASE, attempts: int = 3) -> PostgresServer:
    """Initialise and start a throw-away cluster; create ``database`` in it.

    Raises
    ------
    RuntimeError
        When the server cannot be started here (the message says why, with the server log).
    """
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    bin_dir, as_user = find_binaries(), _as_user()
    folder = Path(tempfile.mkdtemp(prefix="crmtools-pg-"))
    data = folder / "data"
    if as_user:
        entry = pwd.getpwnam(_SYSTEM_USER)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    os.chmod(folder, 0o700)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120, cwd=folder)

    init = run(
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    )
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
    log = folder / "server.log"
    for _ in range(attempts):
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=40"
        )
        started = run(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"
        )
        if started.returncode == 0:
            break
    else:
        text = log.read_text(errors="replace")[-2000:] if log.exists() else started.stderr
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {text}")
    server = PostgresServer(
        url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}",
        port=port,
        folder=folder,
        _bin=bin_dir,
        _as_user=as_user,
    )
    made = run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database)
    if made.returncode != 0:
        server.stop()
        raise RuntimeError(f"createdb failed: {made.stderr.strip()}")
    return server


if __name__ == "__main__":  # pragma: no cover - manual use and CI
    import signal
    import sys
    import time

    srv = start_server()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` stops the server and removes its folder
    print(f"export CRMTOOLS_TEST_PG_URL={srv.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
