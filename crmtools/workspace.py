"""Where a report run keeps its files while it works, and how it keeps other runs out.

A run needs three things from the file system, and each has a rule:

- **A lock per reports folder** (:func:`report_lock`). Two runs publishing into
  one ``reports/`` folder at once could mix their pages, so the second run
  waits up to ``timeout`` seconds for the first (0 by default: it refuses at
  once) and then stops with :class:`~crmtools.errors.RunBusyError` naming the
  run that holds the lock. The lock is an ``fcntl`` lock on
  ``reports/.crmtools.lock``: the operating system releases it when its
  process dies, however it dies, so a killed run never leaves a stale lock.
- **A private workspace** (:func:`private_workspace`): a folder of the system's
  temporary directory, readable by the run's user only (mode 0700), holding
  the validated data snapshot (which may hold customer ids), the kernels'
  connection files and anything a notebook writes to its temporary
  directory. It is removed on every exit path Python sees (success, error,
  Ctrl-C, SIGTERM, SIGHUP); after a ``kill -9`` the next run removes it
  (:func:`clean_stale_workspaces`).
- **A staging folder per run** under ``reports/.staging/`` where pages are
  built before the atomic swap into ``reports/<period>/``
  (:func:`new_staging`). Staging folders left by killed runs are removed by the
  next run that holds the lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import ReportFileError, RunBusyError

__all__ = [
    "clean_stale_staging",
    "clean_stale_workspaces",
    "file_errors",
    "kill_child_processes",
    "new_staging",
    "private_workspace",
    "remove_if_empty",
    "report_lock",
    "terminate_on_signals",
]

LOCK_NAME = ".crmtools.lock"
WORKSPACE_PREFIX = "crmtools-run-"


@contextlib.contextmanager
def report_lock(reports_dir: Path, *, timeout: float = 0.0, what: str = "") -> Iterator[Path]:
    """Hold the run lock of ``reports_dir`` for the ``with`` block.

    Parameters
    ----------
    reports_dir : Path
        The reports folder (created when missing).
    timeout : float, default=0.0
        Seconds to wait for another run to finish; 0 refuses at once.
    what : str, default=""
        What this run does (e.g. the period), written into the lock file so a
        waiting run can say who holds it.

    Raises
    ------
    RunBusyError
        When another run still holds the lock after ``timeout`` seconds.
    """
    reports_dir = Path(reports_dir)
    with file_errors(reports_dir):
        reports_dir.mkdir(parents=True, exist_ok=True)
        handle = open(reports_dir / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
    try:
        _acquire(handle, reports_dir, timeout)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "what": what, "since": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n")
        handle.flush()
        try:
            yield reports_dir / LOCK_NAME
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def _acquire(handle, reports_dir: Path, timeout: float) -> None:
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise RunBusyError(_holder_message(reports_dir, timeout)) from None
            time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))


def _holder_message(reports_dir: Path, timeout: float) -> str:
    try:
        holder = json.loads((reports_dir / LOCK_NAME).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        holder = {}
    who = (
        f"run of {holder.get('what') or 'a period'} (pid {holder.get('pid', '?')}, since {holder.get('since', '?')})"
        if holder
        else "run"
    )
    waited = f" after waiting {timeout:g} s" if timeout > 0 else ""
    return (
        f"another crmtools {who} is writing to {reports_dir}{waited}; nothing was changed. "
        f"Run again when it has finished, or pass --wait SECONDS to wait for it."
    )


@contextlib.contextmanager
def private_workspace() -> Iterator[Path]:
    """A folder only this user can read, removed when the block ends (see the module notes)."""
    clean_stale_workspaces()
    folder = Path(tempfile.mkdtemp(prefix=f"{WORKSPACE_PREFIX}{os.getpid()}-"))
    os.chmod(folder, 0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def clean_stale_workspaces(tmp_dir: str | os.PathLike | None = None) -> list[Path]:
    """Remove the private workspaces of runs whose process no longer exists; returns what was removed."""
    removed = []
    for folder in Path(tmp_dir or tempfile.gettempdir()).glob(f"{WORKSPACE_PREFIX}*"):
        pid_text = folder.name[len(WORKSPACE_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)) or not folder.is_dir():
            continue
        try:
            if folder.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_staging(reports_dir: Path, label: str) -> Path:
    """A fresh staging folder of this run, ``reports/.staging/<label>-<random>``."""
    root = Path(reports_dir) / ".staging"
    with file_errors(root):
        root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=root))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(folder, 0o777 & ~umask)  # published as it is: readable like any folder the user makes
        return folder


def clean_stale_staging(reports_dir: Path) -> None:
    """Remove every staging folder (call while holding the lock: they are all left by dead runs)."""
    root = Path(reports_dir) / ".staging"
    if root.is_dir():
        for child in root.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    remove_if_empty(root)


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` when it exists and is empty."""
    with contextlib.suppress(OSError):
        Path(folder).rmdir()


def kill_child_processes() -> None:
    """Kill every process this one started (notebook kernels), so an interrupted run leaves none behind."""
    import psutil

    with contextlib.suppress(psutil.Error):
        children = psutil.Process().children(recursive=True)
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(children, timeout=5)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C so that every ``finally`` cleans up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def terminate_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` in the main thread for the block."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def file_errors(path: str | os.PathLike, action: str = "write to") -> Iterator[None]:
    """Turn an operating-system error into a :class:`ReportFileError` that names the path and the cause."""
    try:
        yield
    except ReportFileError:
        raise
    except OSError as exc:
        raise ReportFileError(describe_os_error(exc, path, action)) from exc


def describe_os_error(exc: OSError, path: str | os.PathLike, action: str = "write to") -> str:
    """One sentence for an operating-system error: what failed, where, why, and what to do."""
    where = exc.filename or path
    causes = {
        errno.EACCES: "permission denied (check the folder's owner and permissions)",
        errno.EPERM: "operation not permitted (check the folder's owner and permissions)",
        errno.EROFS: "the file system is read-only",
        errno.ENOSPC: "no space left on the device (free some space)",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.ENOENT: "no such file or folder",
        errno.ENOTDIR: "a part of the path is not a folder",
    }
    cause = causes.get(exc.errno, exc.strerror or str(exc))
    return f"cannot {action} {where}: {cause}. Nothing was published; the last good report is untouched."
