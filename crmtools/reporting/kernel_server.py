"""Report kernels forked from one process that has imported what the pages use.

A report kernel started the usual way (``python -m ipykernel_launcher``) is a new interpreter that imports
IPython, pandas, matplotlib and the package before its first page: about 3.5 s of CPU per kernel,
paid by a run's two kernels side by side while the runner reads and checks the inputs on the same two cores. A
:class:`KernelServer` is one process that imports them once, as the run starts; each kernel is then a fork of it
(``os.fork``: the imported modules are shared, copy on write), answering in a fraction of a second. Otherwise the
kernel is what ``ipykernel_launcher`` starts: the same arguments, environment and working folder, a session of its
own, and jupyter_client talks to it as to any kernel (:func:`provisioner_class`).

The server only speeds a run up: when it cannot start, fork or is asked for another command or folder, the kernel
starts the usual way. It forks only from its one thread, before any work: modules are imported, nothing is run.

This module imports nothing heavy, so that the command line can start a server before it imports the runner.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "RUN_ENVIRONMENT",
    "WARM_IMPORTS",
    "KernelServer",
    "early_server",
    "provisioner_class",
    "take_server",
    "with_run_environment",
]

#: What every report kernel imports ahead of its first page (the pages' first cells import them): once in the
#: :class:`KernelServer` its kernels are forked from, or as each kernel starts. Not what one kernel alone uses
#: (scikit-learn: the churn model of the base values, which one kernel computes ahead for the others): every kernel
#: waits for the server's imports.
WARM_IMPORTS = (
    "crmtools.notebook",
    "crmtools.plotting.theme",
    "crmtools.reporting.findings",
    "crmtools.reporting.summary",
    "crmtools.reporting.tables",
    "matplotlib.pyplot",
    "seaborn",
)

#: Defaults for the environment of a run's processes (the command line, its kernel server and kernels); a value the
#: user set is kept. They keep a run off transparent huge pages: ``MIMALLOC_ALLOW_THP=0`` makes Arrow's allocator
#: (mimalloc, which otherwise asks for them for its whole 1 GB arena) turn them off for its process and the
#: processes it starts, as pyarrow loads (``prctl(PR_SET_THP_DISABLE)``), and ``NUMPY_MADVISE_HUGEPAGE=0`` stops
#: numpy asking for them for each array of 4 MB or more. A run's large arrays live for one step, and each huge page
#: costs 2 MB of zeroing, or a compaction of memory when none is free, every time one is made. On the
#: 500,000-customer sample the system's share of a run's CPU was 32-39 s of about 135 s with them, 19-21 s without
#: numpy's and 10-11 s without any; reading and checking the inputs took 11-13.5 s with Arrow's, 5-6.5 s without.
#: ``MIMALLOC_ALLOW_THP=1`` (and ``NUMPY_MADVISE_HUGEPAGE=1`` for numpy's arrays) lets a run have them again.
RUN_ENVIRONMENT = {"NUMPY_MADVISE_HUGEPAGE": "0", "MIMALLOC_ALLOW_THP": "0"}


def with_run_environment(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with the :data:`RUN_ENVIRONMENT` defaults it does not set.

    Examples
    --------
    >>> with_run_environment({"NUMPY_MADVISE_HUGEPAGE": "1", "X": "y"})
    {'NUMPY_MADVISE_HUGEPAGE': '1', 'MIMALLOC_ALLOW_THP': '0', 'X': 'y'}
    >>> with_run_environment({})
    {'NUMPY_MADVISE_HUGEPAGE': '0', 'MIMALLOC_ALLOW_THP': '0'}
    """
    return {**RUN_ENVIRONMENT, **environ}


#: The kernel command a server can serve (as jupyter_client formats the ``python3`` kernel spec, after the interpreter).
_LAUNCHER = ("-m", "ipykernel_launcher")

#: What every report kernel's environment holds (:func:`crmtools.reporting.render.execute_notebook` sets them too):
#: charts drawn inline, and string hashing fixed; the server is an interpreter, so its hashing is its kernels'.
KERNEL_ENVIRONMENT = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONHASHSEED": "0"}


class KernelServer:
    """A process that has imported ``imports`` and forks report kernels on request (see the module's notes).

    Parameters
    ----------
    cwd : path
        The kernels' working folder (it comes first on their ``sys.path``, as for ``python -m``).
    imports : tuple of str
        Modules imported before the first fork (one that fails to import is left to the page that needs it).
    """

    def __init__(self, cwd: str | os.PathLike, imports: tuple[str, ...] = WARM_IMPORTS) -> None:
        self.cwd = Path(cwd).resolve()
        requests_in, requests_out = os.pipe()
        replies_in, replies_out = os.pipe()
        env = {**with_run_environment(os.environ), "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")}
        env["MPLBACKEND"] = KERNEL_ENVIRONMENT["MPLBACKEND"]  # read as matplotlib is imported: its kernels' too
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(requests_in), str(replies_out), *imports],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                pass_fds=(requests_in, replies_out),
            )
        finally:
            os.close(requests_in)
            os.close(replies_out)
        self._requests = os.fdopen(requests_out, "w", encoding="utf-8")
        self._replies = os.fdopen(replies_in, encoding="utf-8")
        self._hash_seed = env["PYTHONHASHSEED"]
        self._lock = threading.Lock()
        self._forked = False
        self.ready = threading.Event()  # set once the server has imported (or is gone: then ``alive`` is False)
        threading.Thread(target=self._await_ready, name="crmtools-kernel-server", daemon=True).start()

    def _await_ready(self) -> None:
        try:
            line = self._replies.readline()
        except (OSError, ValueError):
            line = ""
        if line.strip() != _READY:
            self._gone = True
        self.ready.set()

    _gone = False

    @property
    def alive(self) -> bool:
        """Whether the server can still fork."""
        return not self._gone and self._process.poll() is None and not self._requests.closed

    def fork(self, cmd: list[str], *, env: dict[str, str], cwd: str | os.PathLike | None) -> int | None:
        """Fork a kernel running ``cmd`` (``python -m ipykernel_launcher ...``) in ``cwd`` with ``env``: its pid.

        None when this server cannot start it (another command, folder or string hashing, or the server is gone):
        the caller then starts the kernel the usual way.
        """
        if not self._serves(cmd, env, cwd) or not self.ready.wait(timeout=120) or not self.alive:
            return None
        request = json.dumps({"argv": list(cmd[1 + len(_LAUNCHER) :]), "env": dict(env), "cwd": str(self.cwd)})
        with self._lock:
            try:
                self._requests.write(request + "\n")
                self._requests.flush()
                reply = self._replies.readline()
            except (OSError, ValueError):  # the server is gone (a closed pipe)
                return None
        try:
            pid = int(json.loads(reply)["pid"]) if reply else None
        except (ValueError, KeyError, TypeError):
            return None
        self._forked = self._forked or pid is not None
        return pid

    def _serves(self, cmd: list[str], env: dict[str, str], cwd) -> bool:
        same_python = bool(cmd) and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable)
        same_folder = cwd is None or Path(cwd).resolve() == self.cwd
        same_hashing = env.get("PYTHONHASHSEED", self._hash_seed) == self._hash_seed
        same_charts = env.get("MPLBACKEND", KERNEL_ENVIRONMENT["MPLBACKEND"]) == KERNEL_ENVIRONMENT["MPLBACKEND"]
        launcher = tuple(cmd[1 : 1 + len(_LAUNCHER)]) == _LAUNCHER
        return same_python and launcher and same_folder and same_hashing and same_charts

    def close(self) -> None:
        """Stop the server: at once when it forked nothing (it may still be importing: a run stopped by bad
        inputs does not wait for it); else once it has stopped and collected its kernels (the runner stopped
        them first; their CPU time is then counted in this process's children, as a kernel started the usual
        way is), killed after a few seconds should it not be done."""
        with contextlib.suppress(OSError):
            self._requests.close()  # the end of the requests: the server stops what is left of its kernels
        if self._forked:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        with contextlib.suppress(OSError):
            self._process.kill()
        self._process.wait()
        with contextlib.suppress(OSError):
            self._replies.close()  # after the server is gone: no thread is reading it any more


#: The server's first line: its imports are done, it forks on request.
_READY = "ready"

_EARLY: KernelServer | None = None


@contextlib.contextmanager
def early_server(cwd: str | os.PathLike, *, enabled: bool = True) -> Iterator[KernelServer | None]:
    """Start a server for the runs of this block (the command line starts it before importing the runner).

    Runs in the block with kernels in ``cwd`` take it (:func:`take_server`); it stops with the block.
    """
    global _EARLY
    server = _start(cwd) if enabled else None
    _EARLY = server
    try:
        yield server
    finally:
        _EARLY = None
        if server is not None:
            server.close()


def take_server(cwd: str | os.PathLike) -> tuple[KernelServer | None, bool]:
    """A server for a run's kernels in ``cwd``, and whether the run owns it (and must close it).

    The one :func:`early_server` started when it is alive and serves ``cwd``; else a new one (None if it
    cannot start).
    """
    if _EARLY is not None and _EARLY.alive and _EARLY.cwd == Path(cwd).resolve():
        return _EARLY, False
    server = _start(cwd)
    return server, server is not None


def _start(cwd) -> KernelServer | None:
    try:
        return KernelServer(cwd)
    except OSError:
        return None


def provisioner_class():
    """jupyter_client's local provisioner, launching through a kernel manager's ``kernel_server`` when it has one.

    The kernel is then the server's child: jupyter_client polls, signals and kills it by its process id (and
    process group: a kernel is a session of its own), as it does a kernel it started.
    """
    from jupyter_client.provisioning import LocalProvisioner

    class ServedProvisioner(LocalProvisioner):
        async def launch_kernel(self, cmd: list[str], **kwargs):
            server = getattr(self.parent, "kernel_server", None)
            env, cwd = kwargs.get("env") or dict(os.environ), kwargs.get("cwd")
            pid = server.fork(cmd, env=env, cwd=cwd) if server is not None else None
            if pid is None:
                return await super().launch_kernel(cmd, **kwargs)
            self.process = _ServedProcess(pid)
            self.pid = self.pgid = pid
            self.cwd = cwd or os.getcwd()
            return self.connection_info

        async def send_signal(self, signum: int) -> None:
            # a served kernel that is gone is never signalled by its process group's id (it may be reused)
            if isinstance(self.process, _ServedProcess) and self.process.poll() is not None:
                return
            await super().send_signal(signum)

    return ServedProvisioner


class _ServedProcess:
    """A forked kernel as jupyter_client handles a ``Popen``: polled, waited for, signalled by its pid.

    It is the server's child, not the runner's: the server reaps it, and ``psutil`` (which remembers the process's
    start time) never signals another process that got its pid later.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        import psutil

        self.pid, self.returncode = pid, None
        try:
            self._process = psutil.Process(pid)
        except psutil.Error:
            self._process, self.returncode = None, 1

    def poll(self) -> int | None:
        if self.returncode is None and not self._running():
            self.returncode = 1  # its exit status went to the server
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import psutil

        if self._process is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                self._process.wait(timeout)
        return self.poll() or 1

    def send_signal(self, signum: int) -> None:
        import psutil

        if self._process is None:
            raise ProcessLookupError(self.pid)
        try:
            self._process.send_signal(signum)
        except psutil.NoSuchProcess:
            raise ProcessLookupError(self.pid) from None

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def _running(self) -> bool:
        import psutil

        try:  # is_running: the same process (its start time), not another one that got the pid since
            return (
                self._process is not None
                and self._process.is_running()
                and self._process.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.Error:
            return False


# --------------------------------------------------------------------------- the server process


def _serve(requests_fd: int, replies_fd: int, imports: list[str]) -> None:
    """Import ``imports``, say so, then fork a kernel for each request line until the runner closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's: it stops the kernels and this server
    signal.signal(signal.SIGCHLD, _reap)  # kernels are reaped as they exit (their CPU time counted as the server's)
    # (not matplotlib's inline backend: imported here, outside IPython, it would skip hooking itself into the shell)
    gc.disable()  # importing makes objects, not garbage: collections while importing would find next to nothing
    for name in ("ipykernel.kernelapp", *imports):
        with contextlib.suppress(Exception):  # a failing import is the page's to report, as in a kernel
            importlib.import_module(name)
    gc.freeze()  # the kernels' collections leave what is imported alone: its memory stays shared, not copied
    gc.enable()
    kernels: list[int] = []
    with os.fdopen(requests_fd, encoding="utf-8") as requests, os.fdopen(replies_fd, "w", encoding="utf-8") as replies:
        replies.write(_READY + "\n")
        replies.flush()
        for line in requests:
            request = json.loads(line)
            try:
                pid = os.fork()
            except OSError:  # no fork now: the runner starts this kernel the usual way
                pid = None
            if pid == 0:
                _run_kernel(request, (requests_fd, replies_fd))  # never returns
            if pid is not None:
                kernels.append(pid)
            replies.write(json.dumps({"pid": pid}) + "\n")
            replies.flush()
    # The runner closed the pipe: it has stopped its kernels, or it is gone (killed) and they would wait for this
    # server for ever (each stops when its parent does). Stop what is left, then collect them all.
    for pid in kernels:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)


def _reap(signum, frame) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _run_kernel(request: dict, server_fds: tuple[int, ...]) -> None:
    """In the forked child: become the kernel ``ipykernel_launcher`` would have started, then exit."""
    code = 1
    try:
        os.setsid()  # a session of its own, as jupyter_client starts kernels: interrupted as a process group
        for fd in server_fds:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        hashing = os.environ.get("PYTHONHASHSEED")  # the server's, so its kernels' (it cannot change after start)
        os.environ.clear()
        os.environ.update(with_run_environment(request["env"]))
        if hashing is not None:
            os.environ["PYTHONHASHSEED"] = hashing
        import tempfile

        tempfile.tempdir = None  # the kernel's TMPDIR (the run's private workspace), not the server's
        # it stops when the server does (the trait's default read JPY_PARENT_PID as the server imported it)
        sys.argv = ["ipykernel_launcher", *request["argv"], f"--IPKernelApp.parent_handle={os.getppid()}"]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
