"""The report kernels' client: its ready check before each notebook ends when the kernel is known ready.

jupyter_client's check then waits for IOPub to stay quiet for 0.2 s (an idle kernel before every notebook); ours
is done at the kernel's idle status for the request, and asks again when IOPub's subscription missed it.
"""

from __future__ import annotations

import asyncio
from queue import Empty

import pytest

from crmtools.reporting.render import _ready_client_class


class ScriptedChannel:
    """A channel holding the messages a kernel has sent; ``get_msg`` on an empty one raises Empty at once."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.empty_reads = 0

    async def get_msg(self, timeout=None) -> dict:
        if not self.messages:
            self.empty_reads += 1
            raise Empty
        return self.messages.pop(0)


def _message(kind: str, parent: str, **content) -> dict:
    return {"msg_type": kind, "parent_header": {"msg_id": parent}, "content": content}


def _client(*, lost: int = 0, answers: bool = True, alive: bool = True):
    """A ready client whose kernel answers each kernel_info request (its first ``lost`` idle statuses missed by
    IOPub), or never answers; the channels' other messages belong to no request of the check."""

    class Scripted(_ready_client_class()):
        def __init__(self) -> None:
            super().__init__()
            self.shell, self.iopub, self.requests, self.handled = ScriptedChannel(), ScriptedChannel(), [], []
            self.shell.messages.append(_message("execute_reply", "an-earlier-cell"))

        @property
        def shell_channel(self):
            return self.shell

        @property
        def iopub_channel(self):
            return self.iopub

        def kernel_info(self) -> str:
            request = f"info-{len(self.requests)}"
            self.requests.append(request)
            if answers:
                self.shell.messages.append(_message("kernel_info_reply", request, protocol_version="5.3"))
                if len(self.requests) > lost:
                    self.iopub.messages += [
                        _message("status", request, execution_state="busy"),
                        _message("stream", "an-earlier-cell", name="stdout", text="late output"),
                        _message("status", request, execution_state="idle"),
                    ]
                self.iopub.messages.append(_message("status", "after-the-check", execution_state="busy"))
            return request

        def _handle_kernel_info_reply(self, msg: dict) -> None:
            self.handled.append(msg["parent_header"]["msg_id"])

        async def _async_is_alive(self) -> bool:
            return alive

    return Scripted()


def test_ready_at_the_kernels_idle_status_without_waiting_for_a_quiet_iopub():
    client = _client()
    asyncio.run(client.wait_for_ready(timeout=5))
    assert client.requests == ["info-0"] and client.handled == ["info-0"]
    assert client.iopub.empty_reads == 0, "never waits on a quiet IOPub"
    assert [m["parent_header"]["msg_id"] for m in client.iopub.messages] == ["after-the-check"], "left unread"


def test_asks_again_when_iopub_missed_the_status():
    client = _client(lost=2)
    asyncio.run(client.wait_for_ready(timeout=5))
    assert client.requests == ["info-0", "info-1", "info-2"]
    assert client.handled == ["info-2"], "the protocol is read from the reply whose status was seen"


def test_a_dead_kernel_or_one_that_never_answers_is_an_error():
    with pytest.raises(RuntimeError, match="died"):
        asyncio.run(_client(answers=False, alive=False).wait_for_ready(timeout=5))
    with pytest.raises(RuntimeError, match="didn't respond in 0 seconds"):
        asyncio.run(_client(answers=False).wait_for_ready(timeout=0))
