"""Small canvases of Python runner functions, shared by the run tests."""

import os
import signal
import sys
import threading
import time
from typing import Dict, Iterable, Tuple

import reelgraph


def node_type(function: str) -> dict:
    """A node type whose task calls `function` with its `text` property and
    the `text` of the node connected to its input."""
    return {
        "type": function.replace(".", "_"),
        "category": "post",
        "title": function,
        "inputs": [{"name": "text", "type": "text"}],
        "outputs": [{"name": "text", "type": "text"}],
        "properties": [{"name": "text", "type": "text", "default": ""}],
        "task": {
            "function": function,
            "params": {"text": {"property": "text"}, "upstream": {"input": "text"}},
        },
    }


def canvas_of(nodes: Dict[str, str], edges: Iterable[Tuple[str, str]] = ()) -> "reelgraph.Canvas":
    """A canvas with a node per entry of `nodes` (node id -> function) whose
    `text` is its id, and edges from one node's text to another's."""
    catalog = reelgraph.Catalog.builtin()
    for function in sorted(set(nodes.values())):
        catalog.register(node_type(function))
    canvas = reelgraph.Canvas("c", "C", catalog=catalog)
    ops = [
        {"op": "add_node", "id": node, "type": function.replace(".", "_"), "properties": {"text": node}}
        for node, function in nodes.items()
    ]
    ops += [
        {"op": "connect", "source": {"node": a, "port": "text"}, "target": {"node": b, "port": "text"}}
        for a, b in edges
    ]
    canvas.apply(ops)
    return canvas


def upper(params, ctx):
    return {"text": params["text"].upper()}


def wait_until(condition, seconds: float = 20.0) -> None:
    """Polls `condition` until it holds; fails the test after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.01)


class Gate:
    """A function that waits until released (or cancelled), for tests that
    need a task to be running."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.saw_cancel = threading.Event()

    def __call__(self, params, ctx):
        self.started.set()
        while not self.release.is_set():
            if ctx.cancelled:
                self.saw_cancel.set()
                return {"text": "stopped"}
            time.sleep(0.01)
        return {"text": "released"}


def interrupted(call, started: threading.Event):
    """Calls `call()` (a blocking call into the binding) in this, the main,
    thread, and sends this process SIGINT, as Ctrl-C would, once `started`
    is set and this thread is inside `call`."""
    main = threading.main_thread().ident

    def send():
        if not started.wait(20):
            return
        while sys._current_frames()[main].f_code is not _calling.__code__:
            time.sleep(0.001)
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        return _calling(call)
    finally:
        sender.join()


def _calling(call):
    return call()
