"""Report kernels forked from a server that imported what the pages use (crmtools.reporting.kernel_server)."""

from __future__ import annotations

import os
import queue
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from crmtools.reporting import kernel_server
from crmtools.reporting.kernel_server import KernelServer, early_server, take_server
from crmtools.reporting.render import KernelSession

#: Light imports: the server's behaviour, not the pages' modules (a run's server imports WARM_IMPORTS).
LIGHT = ("wave",)  # a module nothing else imports

PROBE = """import os, sys, tempfile
print("PPID", os.getppid(), "SID", os.getsid(0) == os.getpid(), "CWD", os.getcwd())
print("TMP", tempfile.gettempdir(), "SEED", os.environ.get("PYTHONHASHSEED"), "MARK", os.environ.get("CRM_MARK"))
print("WARM", "wave" in sys.modules)
import gc
print("GC", gc.isenabled(), "FROZEN", gc.get_freeze_count() > 0)"""


def _execute(km, code: str, timeout: float = 60) -> tuple[str, dict]:
    """Run ``code`` on the kernel of ``km``: what it printed and the execute reply."""
    from jupyter_client import BlockingKernelClient

    kc = BlockingKernelClient(connection_file=km.connection_file)
    kc.load_connection_file()
    kc.start_channels(hb=False)  # no heartbeat: a loaded machine's late first beat would read as a dead kernel
    try:
        kc.wait_for_ready(timeout=timeout)
        msg_id = kc.execute(code)
        printed = []
        while True:
            msg = kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        reply = kc.get_shell_msg(timeout=timeout)
        return "".join(printed), reply["content"]
    finally:
        kc.stop_channels()


def _gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def server(tmp_path):
    s = KernelServer(tmp_path, LIGHT)
    yield s
    s.close()


def test_a_served_kernel_is_a_fork_of_the_server_in_the_kernels_own_setting(server, tmp_path, monkeypatch):
    """The kernel is the server's child with the modules it imported, yet sees what ``ipykernel_launcher`` would
    have: a session of its own, the working folder, the environment jupyter_client gave it (its TMPDIR: the run's
    private workspace, not the server's) and the fixed string hashing of report kernels."""
    workspace = tmp_path / "private"
    workspace.mkdir()
    monkeypatch.setenv("TMPDIR", str(workspace))
    monkeypatch.setenv("CRM_MARK", "given-at-launch")  # set after the server started: reaches the kernel anyway
    with KernelSession(server) as kernel:
        km = kernel.manager(tmp_path)
        printed, reply = _execute(km, PROBE)
        pid = km.provisioner.pid
    assert reply["status"] == "ok", reply
    assert f"PPID {server._process.pid} SID True CWD {tmp_path}" in printed
    assert f"TMP {workspace} SEED 0 MARK given-at-launch" in printed
    assert "WARM True" in printed
    assert "GC True FROZEN True" in printed, "the kernel collects garbage; what the server imported is left alone"
    assert _gone(pid), "closing the session stops the kernel"


#: Whether the memory of a large numpy array and of a large Arrow buffer (Arrow's mimalloc reserves its arena as
#: the first buffer is made) may be backed by transparent huge pages: ``THPeligible`` of its mapping, which says
#: both whether the memory was advised so (``madvise``) and whether the process allows them at all.
HUGE_PAGES = """import numpy, pyarrow

def eligible(address):
    with open("/proc/self/smaps") as smaps:
        inside = False
        for line in smaps:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                start, end = (int(x, 16) for x in head.split("-"))
                inside = start <= address < end
            elif inside and head == "THPeligible:":
                return line.split()[1] == "1"
    raise LookupError(address)

array = numpy.ones(8 << 20)  # 64 MB
buffer = pyarrow.allocate_buffer(64 << 20)
print("HUGE", eligible(array.ctypes.data + (32 << 20)), eligible(buffer.address + (32 << 20)))  # their middles"""

#: The settings :data:`kernel_server.RUN_ENVIRONMENT` makes, as the user may set them.
HUGE_SETTINGS = ("NUMPY_MADVISE_HUGEPAGE", "MIMALLOC_ALLOW_THP")

linux_only = pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads Linux's /proc/self/smaps")

_THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")
#: The user's setting can have huge pages only where the system offers them.
_USER_CASES = [(None, False)] + ([("1", True)] if _THP.exists() and "[never]" not in _THP.read_text() else [])


def _user_sets_huge_pages(monkeypatch, given: str | None) -> None:
    for name in HUGE_SETTINGS:
        if given is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, given)


@linux_only
@pytest.mark.parametrize("given, huge", _USER_CASES)
def test_kernels_leave_huge_pages_to_the_user(tmp_path, monkeypatch, given, huge):
    """Report kernels' numpy arrays and Arrow buffers get no transparent huge pages (a run's arrays are short-lived,
    and each huge page is zeroed 2 MB at a time), unless the user's environment says otherwise: for kernels forked
    from a server (which imported both) and kernels started the usual way."""
    _user_sets_huge_pages(monkeypatch, given)
    served = KernelServer(tmp_path, (*LIGHT, "numpy", "pyarrow"))
    try:
        for session in (KernelSession(served), KernelSession()):
            with session as kernel:
                printed, reply = _execute(kernel.manager(tmp_path), HUGE_PAGES)
            assert reply["status"] == "ok", reply
            assert f"HUGE {huge} {huge}" in printed
    finally:
        served.close()


@linux_only
@pytest.mark.parametrize("given, huge", _USER_CASES)
def test_the_command_line_leaves_huge_pages_to_the_user(tmp_path, monkeypatch, given, huge):
    """The ``crmtools`` process (it reads and checks the inputs before any kernel) sets the same defaults before
    numpy or Arrow is loaded: both read them once, as they load."""
    import subprocess

    _user_sets_huge_pages(monkeypatch, given)
    script = "from crmtools import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n" + HUGE_PAGES
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"HUGE {huge} {huge}" in done.stdout


def test_a_served_kernel_is_interrupted_and_killed_as_any_kernel(server, tmp_path):
    """jupyter_client interrupts a kernel (SIGINT to its process group) and kills it: both reach the fork, which
    the server ignores Ctrl-C for and reaps."""
    from jupyter_client import BlockingKernelClient

    kernel = KernelSession(server)
    km = kernel.manager(tmp_path)
    kc = BlockingKernelClient(connection_file=km.connection_file)
    kc.load_connection_file()
    kc.start_channels(hb=False)  # no heartbeat: a loaded machine's late first beat would read as a dead kernel
    try:
        kc.wait_for_ready(timeout=60)
        assert psutil.Process(km.provisioner.pid).ppid() == server._process.pid, "a served kernel"
        msg_id = kc.execute("import time\ntime.sleep(60)")
        time.sleep(1.0)
        os.killpg(km.provisioner.pgid, signal.SIGINT)  # what interrupt_kernel sends
        reply = kc.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    finally:
        kc.stop_channels()
    pid = km.provisioner.pid
    kernel.discard()
    assert _gone(pid), "a killed kernel is gone (reaped by the server)"
    assert server.alive, "the server outlives its kernels"


def test_a_kernel_the_server_cannot_serve_starts_the_usual_way(server, tmp_path):
    """Another working folder (its sys.path would differ), or a server that is gone: the kernel is started by
    jupyter_client as usual, a child of this process."""
    other = tmp_path / "other"
    other.mkdir()
    for folder in (other, tmp_path):
        if folder == tmp_path:
            server.close()
            assert not server.alive
        with KernelSession(server) as kernel:
            printed, reply = _execute(kernel.manager(folder), PROBE)
        assert reply["status"] == "ok", reply
        assert f"PPID {os.getpid()} " in printed and f"CWD {folder}" in printed


def test_the_command_lines_server_is_taken_by_runs_in_its_folder_and_stops_with_it(tmp_path):
    with early_server(tmp_path) as early:
        assert early is not None and early.alive
        assert take_server(tmp_path) == (early, False), "a run takes it, and does not close it"
        elsewhere, owned = take_server(tmp_path / "..")
        assert elsewhere is not early and owned
        elsewhere.close()
    assert not early.alive, "it stops with the block"
    assert kernel_server._EARLY is None


def test_a_server_stops_at_once_while_it_still_imports(tmp_path):
    """A run that stops on bad inputs does not wait for its server's imports."""
    server = KernelServer(tmp_path, ("crmtools.reporting.summary", "sklearn.ensemble"))
    started = time.perf_counter()
    server.close()
    assert time.perf_counter() - started < 1.0
    assert not server.alive


def test_served_kernels_share_the_servers_imports_and_stop_with_it(tmp_path):
    """Two kernels forked in turn from one server (a run's two workers), each answering; when the server is gone
    its orphaned kernels stop themselves (they watch their parent)."""
    server = KernelServer(tmp_path, LIGHT)
    answers: queue.Queue = queue.Queue()
    sessions = [KernelSession(server) for _ in range(2)]
    pids = []
    for session in sessions:
        km = session.manager(tmp_path)
        printed, _ = _execute(km, 'print("PPID", __import__("os").getppid())')
        answers.put(printed)
        pids.append(km.provisioner.pid)
    assert [answers.get() for _ in range(2)] == [f"PPID {server._process.pid}\n"] * 2
    server.close()
    assert all(_gone(pid, seconds=15) for pid in pids), "orphaned kernels stop"
    for session in sessions:
        session.discard()


def test_a_kernels_connection_file_lies_in_the_runs_runtime_folder(tmp_path, monkeypatch):
    """The connection file (it holds the key that signs the kernel's messages) goes beside the kernel's sockets in
    the run's runtime folder (its private workspace), not in the temporary folder this process first looked up
    (jupyter_client's ``mkstemp``: /tmp, where a killed run left it)."""
    import shutil
    import tempfile

    runtime = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))  # short: the sockets' paths fit beside the file
    try:
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
        assert not tempfile.gettempdir().startswith(str(runtime))
        with KernelSession() as kernel:
            km = kernel.manager(tmp_path)
            connection = km.connection_file
            assert os.path.dirname(connection) == str(runtime) and os.path.isfile(connection)
            assert os.stat(connection).st_mode & 0o077 == 0, "readable by its owner only"
        assert not os.path.exists(connection), "removed with the kernel"
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def test_a_runtime_folder_too_deep_for_socket_paths_gives_the_sockets_a_short_private_folder(tmp_path, monkeypatch):
    """A socket's address holds about 100 bytes: a deep runtime folder (a test's temporary folder, a user's TMPDIR)
    made the kernel's start fail ("File name too long") and left the kernel running. Its sockets and connection
    file then go to a private folder of their own in /tmp, removed with the kernel."""
    runtime = tmp_path / ("deep-" * 20) / "runtime"
    runtime.mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    with KernelSession() as kernel:
        km = kernel.manager(tmp_path)
        folder = os.path.dirname(km.connection_file)
        assert folder.startswith("/tmp/crm-") and len(os.fsencode(km.ip)) <= 96
        assert os.stat(folder).st_mode & 0o077 == 0, "private to its owner"
        printed, reply = _execute(km, "print(6 * 7)")
        assert reply["status"] == "ok" and printed == "42\n"
    assert not os.path.exists(folder), "removed with the kernel"


def test_kernels_left_by_a_runner_that_died_are_stopped_by_the_server(tmp_path):
    """A runner killed outright (kill -9, out of memory) stops nothing: the end of its pipe tells the server, which
    stops the kernels it forked (they would wait for it for ever: each stops only when its parent does)."""
    server = KernelServer(tmp_path, LIGHT)
    kernel = KernelSession(server)
    try:
        km = kernel.manager(tmp_path)
        _, reply = _execute(km, "x = 1")
        assert reply["status"] == "ok"
        pid = km.provisioner.pid
        server._requests.close()  # what the runner's death does to the pipe; the kernel is left running
        assert _gone(pid, seconds=10), "the server stopped the kernel"
        server._process.wait(timeout=10)
    finally:
        kernel.discard()
        server.close()


def test_the_server_serves_only_kernels_of_its_chart_backend(server, tmp_path):
    """matplotlib reads MPLBACKEND as it is imported (by the server): a kernel asked with another backend (a user's
    Agg) starts the usual way."""
    cmd = [os.path.realpath(sys.executable), "-m", "ipykernel_launcher", "-f", str(tmp_path / "k.json")]
    assert server.fork(cmd, env={**os.environ, "MPLBACKEND": "Agg"}, cwd=tmp_path) is None
    assert not server._forked


def test_a_session_closes_its_sockets_and_context_even_when_its_kernel_cannot_be_shut_down(tmp_path, monkeypatch):
    """A kernel that is gone (or refuses to shut down) left its manager's control socket and zmq context to the
    garbage collector; pyzmq's Context.__del__ then waited for ever for a socket collected after it, freezing the
    process at a later collection (seen in the suite), and a kernel that did not answer kept running. Discarding the
    session stops the kernel outright and closes them, whatever happened."""
    kernel = KernelSession()
    km = kernel.manager(tmp_path)
    pid = km.provisioner.pid

    async def refuses(*args, **kwargs):
        raise RuntimeError("no answer")

    monkeypatch.setattr(km, "shutdown_kernel", refuses)
    kernel.discard()
    assert km.context.closed and km._control_socket is None
    assert _gone(pid), "a kernel that does not shut down is stopped outright"
