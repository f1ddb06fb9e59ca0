"""The reference server under test: the real `reelgraph serve` binary on
127.0.0.1 with a free port and a temporary data directory.

The binary comes from the environment variable REELGRAPH_BIN (`make
python-test` builds it and sets it). `start` waits for the line
`reelgraph serving on http://...` and reads the admin key printed before it,
as the server's own tests do (server-example/tests/support/).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Optional, Tuple

import pytest

#: How long a start may take before the test fails.
START_TIMEOUT = 60.0


class Server:
    """A running server: its URL (no trailing slash), admin key and process."""

    def __init__(self, process: subprocess.Popen, url: str, key: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.key = key
        self.log = log

    def request(self, method: str, path: str, body: Optional[dict] = None,
                key: Optional[str] = None) -> Tuple[int, Any]:
        """Sends `body` as JSON with the admin key (or `key`); the status and JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {key or self.key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def submit(self, function: str, params: dict, **fields: Any) -> str:
        """`POST /v1/tasks`; the new task's id."""
        status, body = self.request("POST", "/v1/tasks", {"function": function, "params": params, **fields})
        assert status in (200, 201), body
        return body["id"]

    def task(self, task_id: str) -> dict:
        status, body = self.request("GET", f"/v1/tasks/{task_id}")
        assert status == 200, body
        return body

    def wait_task(self, task_id: str, seconds: float = 30.0) -> dict:
        """The task's record once it is final; fails the test after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            record = self.task(task_id)
            if record["state"] not in ("queued", "leased"):
                return record
            assert time.monotonic() < deadline, f"the task did not end in time: {record}"
            time.sleep(0.02)

    def task_events(self, task_id: str) -> Iterator[dict]:
        """The task's events (SSE, `GET /v1/tasks/{id}/events`) up to its final one."""
        request = urllib.request.Request(self.url + f"/v1/tasks/{task_id}/events")
        request.add_header("Authorization", f"Bearer {self.key}")
        with urllib.request.urlopen(request, timeout=30) as response:
            for raw in response:
                line = raw.decode().rstrip("\r\n")
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[len("data:"):])
                yield event
                if event["type"] in ("task_completed", "task_failed", "task_cancelled", "task_dead"):
                    return

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def binary() -> str:
    """The server binary named by REELGRAPH_BIN; a missing one fails the test."""
    path = os.environ.get("REELGRAPH_BIN")
    if not path:
        pytest.fail("REELGRAPH_BIN is not set: build the server (cargo build -p reelgraph-server) and "
                    "set REELGRAPH_BIN to target/debug/reelgraph, or run `make python-test`")
    if not os.access(path, os.X_OK):
        pytest.fail(f"REELGRAPH_BIN={path} is not an executable file: build it with "
                    "`cargo build -p reelgraph-server`")
    return path


def start(root: Path, *args: str) -> Server:
    """Starts the server on `root/data` with extra `serve` flags."""
    root.mkdir(parents=True, exist_ok=True)
    log = root / "server.log"
    env = {k: v for k, v in os.environ.items() if k not in ("REELGRAPH_ADDR", "REELGRAPH_DATA_DIR")}
    with open(log, "ab") as err:
        process = subprocess.Popen(
            [binary(), "serve", "--addr", "127.0.0.1:0", "--data-dir", str(root / "data"), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env,
        )
    lines: "queue.Queue[str]" = queue.Queue()

    def drain() -> None:
        # The test may be done with the lines; the pipe is still drained.
        assert process.stdout is not None
        for raw in process.stdout:
            lines.put(raw.decode().rstrip("\n"))

    threading.Thread(target=drain, daemon=True).start()
    key = None
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            process.kill()
            process.wait()
            pytest.fail(f"the server did not print its URL in {START_TIMEOUT} s; its log:\n{log.read_text()}")
        if line.startswith("admin key: "):
            key = line[len("admin key: "):]
        elif line.startswith("reelgraph serving on "):
            assert key is not None, "the first start prints the admin key"
            return Server(process, line[len("reelgraph serving on "):], key, log)
