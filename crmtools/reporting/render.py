"""Execute a report notebook with Papermill and render it to self-contained HTML.

- Notebooks run on the ``python3`` kernel, which Papermill starts with the
  interpreter of the running process: the project's own environment, never
  whatever kernel happens to be installed on the machine.
- The kernel is forced onto matplotlib's inline backend (``MPLBACKEND``),
  since an ``Agg`` backend inherited from the environment makes charts
  silently vanish; the rendered page is then checked for images.
- HTML comes from a small template (``crmtools/templates/crmtools_report``)
  that drops every CDN script, hides code cells and adds navigation.
- Executed notebooks are normalised (no timings, fixed cell ids, fixed
  title) so that the same inputs give byte-identical HTML.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import re
import tempfile
import threading
from pathlib import Path

from ..errors import ReportError
from .kernel_server import with_run_environment
from .notebook_format import nbformat

__all__ = [
    "TEMPLATE_DIR",
    "KernelSession",
    "count_images",
    "execute_notebook",
    "normalise_notebook",
    "prepare_renderer",
    "render_html",
]

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
_INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def execute_notebook(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    parameters: dict,
    *,
    cwd: str | os.PathLike | None = None,
    timeout: int = 1800,
    kernel: KernelSession | None = None,
) -> nbformat.NotebookNode:
    """Run a parameterised notebook and save the executed copy.

    Parameters
    ----------
    input_path, output_path : path
        The notebook, and where its executed copy is written (when it starts and when it ends, however it
        ends; during a cell that runs long, every 30 seconds).
    parameters : dict
        Papermill parameters.
    cwd : path, optional
        Working folder of a kernel this call starts.
    timeout : int, default=1800
        Seconds a cell may run.
    kernel : KernelSession, optional
        Run on this session's kernel (started on first use, its namespace
        reset before the notebook) instead of a kernel of its own.

    Raises
    ------
    ReportError
        Naming the notebook, the failing cell and where the executed copy was kept.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    # The kernel inherits this process's environment: make charts render inline.
    os.environ["MPLBACKEND"] = _INLINE_BACKEND
    os.environ.setdefault("PYTHONHASHSEED", "0")
    # The kernel starts in ``cwd`` itself: Papermill's own ``cwd`` changes this whole process's working folder
    # for the run, which races when notebooks run in threads (one thread's restore undoes another's).
    _thread_safe_local_io()
    session = kernel if kernel is not None else KernelSession()
    try:
        pm.execute_notebook(
            str(input_path),
            str(output_path),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            request_save_on_cell_execute=True,  # the engine gets the output path (its saves: EndsSavedManager)
            execution_timeout=timeout,
            kernel_manager_class=_ipc_kernel_manager(),
            engine_name=_SESSION_ENGINE,
            km=session.manager(cwd=cwd),
        )
    except PapermillExecutionError as exc:
        first = str(exc.evalue).strip().splitlines()[0] if str(exc.evalue).strip() else exc.ename
        raise ReportError(
            f"Notebook {Path(input_path).name} failed in cell {exc.exec_count} "
            f"({exc.ename}: {first}). The executed notebook is kept at {output_path}."
        ) from None
    except (OSError, KeyboardInterrupt):
        raise
    except Exception as exc:  # the kernel died, timed out or could not start: name the cell it was in
        raise ReportError(_interrupted_message(input_path, output_path, exc)) from None
    finally:
        if kernel is None:  # a kernel of this notebook's own
            session.close()
    return nbformat.read(str(output_path), as_version=4)


def _interrupted_message(input_path, output_path, exc: Exception) -> str:
    """Say which cell was running when execution stopped for a reason other than an error in a cell.

    The executed notebook is kept at ``output_path`` (Papermill writes what ran
    so far; when it could not, the input notebook is copied there so the cell
    numbers can be looked up).
    """
    name = Path(input_path).name
    kinds = {
        "DeadKernelError": "the kernel died (killed, or out of memory?)",
        "CellTimeoutError": "a cell ran longer than the time limit",
        "TimeoutError": "the kernel did not answer in time",
    }
    what = kinds.get(
        type(exc).__name__, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    )
    nb = None
    try:
        nb = nbformat.read(str(output_path), as_version=4)
    except (OSError, ValueError):
        try:
            nb = nbformat.read(str(input_path), as_version=4)
            nbformat.write(nb, str(output_path))
        except (OSError, ValueError):
            pass
    where = ""
    if nb is not None:
        index, cell = _last_started_cell(nb)
        if cell is not None:
            line = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
            where = f" while running cell {index + 1} of the executed notebook ({line[:80]!r})"
    return f"Notebook {name}: {what}{where}. The executed notebook is kept at {output_path}."


def _last_started_cell(nb: nbformat.NotebookNode):
    """The last code cell Papermill started (it records a ``start_time``), with its index; (None, None) if none."""
    found = (None, None)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.metadata.get("papermill", {}).get("start_time"):
            found = (index, cell)
    return found


#: The longest socket path the kernel's IPC sockets may take (their names add "-<port>"): AF_UNIX addresses hold
#: 108 bytes on Linux, 104 on macOS, with the final NUL.
_IPC_PATH_BYTES = 96


def _short_temp_root() -> str | None:
    """``/tmp`` where it is a folder (short enough for socket paths), else the process's temporary folder."""
    return "/tmp" if os.path.isdir("/tmp") else None


def _ipc_kernel_manager():
    """A kernel manager that talks to the kernel over local IPC sockets instead of TCP.

    The sockets live next to the connection file in the Jupyter runtime
    folder (the run's private workspace when the runner sets
    ``JUPYTER_RUNTIME_DIR``), so no port is opened and the kernel does not log
    its "running over TCP without encryption" warning on every run.
    """
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import default

    from .kernel_server import provisioner_class

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self):
            return "ipc"

        @default("client_factory")
        def _client_factory_default(self):
            return _ready_client_class()

        async def _async_interrupt_kernel(self):
            # jupyter_client interrupts a kernel before asking it to shut down; a finished notebook's kernel
            # then logs "ERROR | KeyboardInterrupt caught in kernel" on every successful run. A run that
            # shuts a kernel down has nothing to interrupt (a stuck cell is killed, not interrupted).
            if getattr(self, "shutting_down", False):
                return
            await super()._async_interrupt_kernel()

        async def _async_pre_start_kernel(self, **kw):
            # a kernel forked from the run's kernel server when it has one (crmtools.reporting.kernel_server)
            if self.provisioner is None and getattr(self, "kernel_server", None) is not None:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
                self.provisioner = provisioner_class()(
                    kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
                )
            return await super()._async_pre_start_kernel(**kw)

        @default("ip")
        def _ip_default(self):
            folder = jupyter_runtime_dir()
            os.makedirs(folder, mode=0o700, exist_ok=True)
            name = f"crmtools-{uuid.uuid4().hex[:12]}-ipc"
            if len(os.fsencode(os.path.join(folder, name))) > _IPC_PATH_BYTES:
                # a runtime folder too deep for a socket's address (AF_UNIX holds about 100 bytes): a private folder
                # of its own in the system's temporary folder, removed with the kernel's sockets
                self._short_folder = tempfile.mkdtemp(prefix="crm-", dir=_short_temp_root())
                folder = self._short_folder
            return os.path.join(folder, name)

        def cleanup_ipc_files(self):
            super().cleanup_ipc_files()
            short = getattr(self, "_short_folder", None)
            if short and not os.path.exists(self.connection_file):  # (kept on a restart)
                with contextlib.suppress(OSError):
                    os.rmdir(short)

        @default("connection_file")
        def _connection_file_default(self):
            # beside the sockets, not in the temporary folder the process first saw (jupyter_client's mkstemp):
            # a run's connection files (their signing key) go with its private workspace, even after a kill -9
            return os.path.join(os.path.dirname(self.ip), f"kernel-{uuid.uuid4().hex[:12]}.json")

    return IPCKernelManager


def _ready_client_class():
    """jupyter_client's async kernel client whose ready check ends when the kernel is known ready.

    jupyter_client's check (sent before each notebook: each gets new channels to its worker's kernel) asks for
    the kernel's info until a reply and a message on IOPub prove both channels connected, then waits for IOPub
    to stay quiet for 0.2 s, which it always does: 0.2 s of an idle kernel per notebook, two seconds a run. This
    one asks the same, and is done when the kernel's IOPub reports it idle after the request (the last message
    the request causes; anything else on IOPub belongs to no cell and is ignored by the client that runs them).
    """
    import time
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient

    class ReadyClient(AsyncKernelClient):
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
            while True:
                if await self._answered(self.kernel_info(), wait=1.0):
                    return
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

        async def _answered(self, request: str, *, wait: float) -> bool:
            # the request's reply on the shell channel, then its idle status on IOPub (lost when IOPub's
            # subscription was not yet live as the kernel published it: then the request is sent again)
            until = time.monotonic() + wait
            reply = await self._next(self.shell_channel, until, request, lambda m: m["msg_type"] == "kernel_info_reply")
            if reply is None:
                return False
            idle = await self._next(
                self.iopub_channel,
                until,
                request,
                lambda m: m["msg_type"] == "status" and m["content"].get("execution_state") == "idle",
            )
            if idle is not None:
                self._handle_kernel_info_reply(reply)
            return idle is not None

        @staticmethod
        async def _next(channel, until: float, request: str, wanted) -> dict | None:
            while (left := until - time.monotonic()) > 0:
                try:
                    msg = await channel.get_msg(timeout=left)
                except Empty:
                    return None
                if msg["parent_header"].get("msg_id") == request and wanted(msg):
                    return msg
            return None

    return ReadyClient


_SESSION_ENGINE = "crmtools-session"

# Run before each notebook on a reused kernel: the notebook then sees what a fresh kernel shows it (an empty
# namespace, no open figures, matplotlib's defaults, execution count 1); only imported modules stay warm.
_FRESH_NAMESPACE = """\
import sys as _sys
if "matplotlib" in _sys.modules:  # figures closed before the reset, so its full collection frees them
    import matplotlib as _mpl
    import matplotlib.pyplot as _plt
    _plt.close("all")
    _mpl.rcdefaults()
get_ipython().reset(new_session=True)  # namespace, history session and execution count, as a new kernel's
import gc as _gc
_gc.freeze()  # what survives the reset's full collection (modules, caches) is not traversed by the next one
del _gc
"""


# A report kernel keeps no IPython history: its inputs are the notebooks, already kept with the run; the
# history database (~/.ipython, readable by other users) would otherwise grow with every page of every run, and
# two kernels writing it at once slow each other down.
_KERNEL_OPTIONS = ("--HistoryManager.enabled=False",)


def _warm_up(modules: tuple[str, ...]) -> str:
    """One line of Python that imports ``modules`` (its one name is gone with the namespace reset of each notebook)."""
    names = ", ".join(repr(m) for m in modules)
    return f"for _module in ({names},): __import__(_module)"


class KernelSession:
    """One kernel that runs several notebooks in turn, so imports are paid once per session, not per page.

    Before each notebook the kernel's namespace is reset (``%reset -f``), open
    figures are closed and matplotlib's settings restored, so a notebook sees
    what a fresh kernel shows it; the runner's tests check that pages come out
    byte-identical either way. A session belongs to one thread (its kernel
    manager lives on that thread's event loop). After a failure that may have
    left the kernel unusable (it died, timed out), call :meth:`discard`: the
    next notebook starts a new kernel. With a ``server``
    (:class:`crmtools.reporting.kernel_server.KernelServer`) its kernels are forked from it, modules imported.
    """

    def __init__(self, server=None) -> None:
        self._km = None
        self._server = server

    def manager(self, cwd: str | os.PathLike | None = None, *, imports: tuple[str, ...] = ()):
        """The kernel manager, its kernel started (in ``cwd``) on first use.

        ``imports``: modules the new kernel imports as it starts (before it answers), so that a kernel started
        ahead of its first notebook (:meth:`start`) has them ready; they leave nothing in the namespace.
        """
        from jupyter_core.utils import run_sync

        if self._km is None:
            _register_session_engine()
            self._km = _ipc_kernel_manager()(kernel_name="python3")
            self._km.kernel_server = self._server
        if not self._km.has_kernel:
            extra = [*_KERNEL_OPTIONS, *([f"--IPKernelApp.exec_lines={_warm_up(imports)}"] if imports else [])]
            run_sync(self._km.start_kernel)(
                cwd=str(cwd) if cwd else None, extra_arguments=extra, env=with_run_environment(os.environ)
            )
        return self._km

    @staticmethod
    def prepare() -> None:
        """Import what sessions use (Papermill, jupyter_client) in the calling thread.

        Call it from the main thread before sessions start on other threads: an import in a thread can race
        with ``warnings.catch_warnings`` in another (it saves and restores the process's warning filters), and
        a filter an imported package sets (``requests`` silences urllib3's SOCKS notice) would then be lost.
        """
        from jupyter_client.kernelspec import KernelSpecManager

        _register_session_engine()
        _ipc_kernel_manager()
        KernelSpecManager().get_kernel_spec("python3")  # finding the kernel imports IPython

    def start(self, cwd: str | os.PathLike | None = None, *, imports: tuple[str, ...] = ()) -> None:
        """Start the kernel now (importing ``imports``) rather than with the first notebook.

        A kernel that cannot start is left for the first notebook to start again, which reports why.
        """
        try:
            self.manager(cwd, imports=imports)
        except Exception:
            self.discard()

    def discard(self) -> None:
        """Stop the kernel at once (if any); the next notebook gets a new one."""
        self._stop(now=True)

    def close(self) -> None:
        """Shut the kernel down cleanly."""
        self._stop(now=False)

    def _stop(self, *, now: bool) -> None:
        from jupyter_core.utils import run_sync

        km, self._km = self._km, None
        if km is None:
            return
        try:
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=now)
        except Exception:  # gone, or it did not answer (a start that failed half way): stopped outright
            with contextlib.suppress(Exception):
                if km.has_kernel:
                    run_sync(km.provisioner.kill)()
        # Its control socket and zmq context closed now, whatever happened (shutdown_kernel closes them only for a
        # kernel it stopped): a context left to the garbage collector and collected before its sockets waits for
        # them for ever (pyzmq's Context.__del__), which froze a process at its next collection.
        with contextlib.suppress(Exception):
            run_sync(km.cleanup_resources)(restart=False)

    def __enter__(self) -> KernelSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _ThreadLocalCwdHandler:
    """Papermill's local file handler without ``os.chdir``: the working folder it reads against is per thread.

    Papermill's own handler is one object for the whole process: each
    ``execute_notebook`` sets its folder to the current working folder and
    restores the previous value when it ends, and every read and write (after
    each cell) does ``os.chdir(folder)`` and back. With notebooks running in
    threads, the restores interleave: the handler keeps a folder of an earlier
    run, and one thread's ``chdir`` back undoes another's, leaving the *process*
    in that folder, so a later run in the same process looks for ``notebooks/``
    in the wrong project. Here each thread keeps its own folder, and relative
    paths are joined to it instead of changing the process's folder.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def cwd(self, new_path):
        """Set this thread's folder for relative paths; return the previous one (Papermill's protocol)."""
        old = getattr(self._local, "cwd", None)
        self._local.cwd = new_path
        return old

    def _resolve(self, path: str) -> str:
        folder = getattr(self._local, "cwd", None)
        return os.path.join(folder, path) if folder and not os.path.isabs(path) else path

    def read(self, path: str) -> str:
        try:
            with open(self._resolve(path), encoding="utf-8") as f:
                return f.read()
        except OSError as exc:
            try:  # Papermill accepts a notebook's JSON text in place of a path
                json.loads(path)
                return path
            except ValueError:
                raise exc from None

    def listdir(self, path: str) -> list[str]:
        return [os.path.join(path, name) for name in os.listdir(self._resolve(path))]

    def write(self, buf: str, path: str) -> None:
        target = self._resolve(path)
        folder = os.path.dirname(target)
        if folder and not os.path.exists(folder):
            raise FileNotFoundError(f"output folder {folder} doesn't exist.")
        with open(target, "w", encoding="utf-8") as f:
            f.write(buf)

    def pretty_path(self, path: str) -> str:
        return path


_IO_LOCK = threading.Lock()


def _thread_safe_local_io() -> None:
    """Put :class:`_ThreadLocalCwdHandler` in place of Papermill's local file handler (once per process)."""
    from papermill.iorw import papermill_io

    with _IO_LOCK:
        handlers = papermill_io._handlers  # Papermill keeps (scheme, handler) pairs; "local" serves plain paths
        for i, (scheme, handler) in enumerate(handlers):
            if scheme == "local" and not isinstance(handler, _ThreadLocalCwdHandler):
                handlers[i] = ("local", _ThreadLocalCwdHandler())


def _register_session_engine() -> None:
    """Register the Papermill engine that runs notebooks on a :class:`KernelSession`'s kernel."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class FreshNamespaceClient(PapermillNotebookClient):
        def papermill_execute_cells(self):
            reply = self.wait_for_reply(self.kc.execute(_FRESH_NAMESPACE, silent=True, store_history=False))
            if reply is None or reply["content"].get("status") != "ok":
                raise RuntimeError("the kernel could not reset its namespace between notebooks")
            super().papermill_execute_cells()

        def execute(self, **kwargs):
            try:
                return super().execute(**kwargs)
            finally:  # the kernel stays for the next notebook; this client's channels do not
                if self.kc is not None:
                    self.kc.stop_channels()

    class EndsSavedManager(NotebookExecutionManager):
        # Papermill writes the whole executed notebook (outputs, images) before and after every cell: for a
        # page of 25 cells, 50 serialisations and schema validations. The copy is written when the notebook
        # starts and when it ends (Papermill's ``notebook_complete`` runs however execution ends: a failed
        # cell, a dead kernel, a timeout), and by the time-based autosave during a long cell.
        _saving = False

        def save(self, **kwargs):
            if self._saving:
                super().save(**kwargs)

        def _saved(self, step, **kwargs):
            self._saving = True
            try:
                return step(**kwargs)
            finally:
                self._saving = False

        def notebook_start(self, **kwargs):
            return self._saved(super().notebook_start, **kwargs)

        def notebook_complete(self, **kwargs):
            return self._saved(super().notebook_complete, **kwargs)

        def autosave_cell(self):
            return self._saved(super().autosave_cell)

    class SessionEngine(NBClientEngine):
        @classmethod
        def execute_notebook(
            cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False, autosave_cell_every=30, **kw
        ):
            nb_man = EndsSavedManager(
                nb,
                output_path=output_path,
                progress_bar=progress_bar,
                log_output=log_output,
                autosave_cell_every=autosave_cell_every,
            )
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kw)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            stdout_file=None,
            stderr_file=None,
            start_timeout=60,
            execution_timeout=None,
            **kwargs,
        ):
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(
                kwargs,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            return FreshNamespaceClient(nb_man, **final).execute()

    papermill_engines.register(_SESSION_ENGINE, SessionEngine)


def normalise_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop volatile metadata (timings, papermill bookkeeping) and give cells fixed ids."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("papermill", None)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "execution_count" in cell:
            cell["execution_count"] = None
        for out in cell.get("outputs", []):
            if "execution_count" in out:
                out["execution_count"] = None
    return nb


def count_images(nb: nbformat.NotebookNode) -> int:
    """Number of non-empty PNG/SVG outputs in an executed notebook."""
    total = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            png = data.get("image/png")
            if (png and len(base64.b64decode(png)) > 100) or data.get("image/svg+xml"):
                total += 1
    return total


_HEADING = re.compile(r"<h[1-3][^>]*>(.*?)</h[1-3]>", re.S)


def _label_charts(nb: nbformat.NotebookNode, default: str) -> None:
    """Give every chart an alt text: the text of the nearest heading above it."""
    import html as html_lib

    current = default
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            found = _HEADING.search(data.get("text/html", "") or "")
            if found:
                current = html_lib.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() or current
            if "image/png" in data:
                out.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = current


#: The text a notebook prints for a matplotlib object left as a cell's value (``<Axes: ...>``, ``<Figure size ...>``).
_OBJECT_REPR = re.compile(
    r"^\s*(\[)?<(Axes|Figure|matplotlib\.|AxesSubplot|Text|BarContainer|Line2D)[^\n]*>\s*(\])?\s*$"
)


def _drop_object_reprs(nb: nbformat.NotebookNode) -> None:
    """Remove results that are only the repr of a plot object: the chart is shown, its Python name is noise."""
    for cell in nb.cells:
        if "outputs" not in cell:
            continue
        kept = []
        for out in cell["outputs"]:
            data = out.get("data", {})
            plain = data.get("text/plain", "")
            plain = "".join(plain) if isinstance(plain, list) else plain
            if (
                out.get("output_type") in ("execute_result", "display_data")
                and set(data) == {"text/plain"}
                and _OBJECT_REPR.match(plain)
            ):
                continue
            kept.append(out)
        cell["outputs"] = kept


def _drop_stderr(nb: nbformat.NotebookNode) -> None:
    """Remove stderr output (warnings, engine logs): it is for the run log, never an empty box on the page."""
    for cell in nb.cells:
        if "outputs" in cell:
            cell["outputs"] = [
                out
                for out in cell["outputs"]
                if not (out.get("output_type") == "stream" and out.get("name") == "stderr")
            ]


_EXPORTERS = threading.local()


def _exporter(language: str):
    """The report's HTML exporter for ``language``, one per thread: its templates are compiled once, not per page."""
    from nbconvert import HTMLExporter

    kept = _EXPORTERS.__dict__.setdefault("by_language", {})
    if language not in kept:
        kept[language] = HTMLExporter(
            template_name="crmtools_report",
            extra_template_basedirs=[str(TEMPLATE_DIR)],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            language_code=language,
        )
    return kept[language]


def prepare_renderer(language: str) -> None:
    """Build this thread's exporter for ``language`` and render a small page to nowhere, while the kernels start.

    What the first page's rendering would otherwise spend once the kernels compete for the cores (the templates
    compiled, the notebook schema's validator and the exporter's HTML selectors built): the first page 0.68 s of
    CPU, then 0.16 s (page 08 of the default sample).
    """
    _page_html(_warm_up_notebook(), title="crmtools", meta={"language": language})


def _warm_up_notebook() -> nbformat.NotebookNode:
    """A page with what report pages hold: a heading, a table, a chart, a note and printed text."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    png = base64.b64encode(_ONE_PIXEL_PNG).decode("ascii")
    outputs = [
        new_output("display_data", data={"text/html": "<h2>Chart</h2><table><tr><td>1</td></tr></table>"}),
        new_output("display_data", data={"image/png": png, "text/plain": "<Figure size 1x1>"}),
        new_output("stream", name="stdout", text="printed\n"),
    ]
    return new_notebook(cells=[new_markdown_cell("# Page\n\n*note*"), new_code_cell("", outputs=outputs)])


#: A valid 1 x 1 PNG (a white pixel).
_ONE_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC"
)


def render_html(nb: nbformat.NotebookNode, html_path: str | os.PathLike, *, title: str, meta: dict) -> str:
    """Write the executed notebook as HTML with no code, no scripts and no external requests.

    Parameters
    ----------
    nb : NotebookNode
        The executed notebook.
    html_path : path
        Where to write the page.
    title : str
        The page title.
    meta : dict
        Template data: ``nav`` (list of ``{href, text}``), ``period_text``, ``footer``, ``language`` (the
        page's ``<html lang>``), ``alternates`` (the page in other languages: ``{href, lang, text}``),
        ``menu`` (the label of the menu on a phone), ``banner``.

    Returns
    -------
    str
        The HTML written.
    """
    body = _page_html(nb, title=title, meta=meta)
    if re.search(r"<script[^>]+src=|<link[^>]+href=\"https?://", body):
        raise ReportError(f"Rendered page {html_path} would load an external resource; refusing to publish it.")
    Path(html_path).write_text(body, encoding="utf-8")
    return body


def _page_html(nb: nbformat.NotebookNode, *, title: str, meta: dict) -> str:
    """The page of an executed notebook (see :func:`render_html`)."""
    nb = normalise_notebook(nb)
    nb.metadata["title"] = title
    nb.metadata["crmtools"] = meta
    # Warnings printed to stderr are for the run log, not for executives.
    _drop_stderr(nb)
    _drop_object_reprs(nb)
    _label_charts(nb, title)
    nb.cells = [c for c in nb.cells if not _is_empty_output_cell(c)]
    body, _ = _exporter(meta.get("language", "en")).from_notebook_node(nb, resources={"metadata": {"name": title}})
    return re.sub(r"[ \t]+\n", "\n", body)


def _is_empty_output_cell(cell) -> bool:
    if cell.cell_type != "code":
        return False
    outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream" and not o.get("text"))]
    return not outputs
