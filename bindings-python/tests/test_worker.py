"""Remote work against a real server: `reelgraph.Worker` serving Python
functions to the server's task service, and `reelgraph.HttpRunner` sending
a run's tasks there."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import pytest

import reelgraph
from runs_support import canvas_of, interrupted, upper
from server_support import Server, start


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start(tmp_path_factory.mktemp("server"))
    yield server
    server.stop()


@contextmanager
def working(worker: reelgraph.Worker) -> Iterator[threading.Thread]:
    """`worker.run()` in a thread for the block; stopped and joined after it."""
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        worker.stop()
        thread.join(30)
        assert not thread.is_alive(), "worker.run() did not return after worker.stop()"


def test_a_submitted_task_is_done_by_a_python_function_with_its_progress(server: Server) -> None:
    runner = reelgraph.LocalRunner()

    @runner.function("py.shout")
    def shout(params, ctx):
        ctx.progress(0.5, "halfway")
        return {"text": params["text"].upper() + "!"}

    worker = reelgraph.Worker(server.url, server.key, runner, name="py-worker-1")
    with working(worker):
        task_id = server.submit("py.shout", {"text": "rain"})
        events = list(server.task_events(task_id))
        record = server.wait_task(task_id)
    assert record["state"] == "completed", record
    assert record["outputs"] == {"text": "RAIN!"}
    assert record["attempts"][0]["worker"] == "py-worker-1"
    progress = [e for e in events if e["type"] == "task_progress"]
    assert [(e["progress"], e.get("message")) for e in progress] == [(0.5, "halfway")], events
    assert events[-1]["type"] == "task_completed"
    assert worker.stats["completed"] >= 1, worker.stats


def test_a_transient_error_fails_the_attempt_and_the_task_is_retried(server: Server) -> None:
    runner = reelgraph.LocalRunner()
    calls = []

    @runner.function("py.flaky")
    def flaky(params, ctx):
        calls.append(params)
        if len(calls) == 1:
            raise reelgraph.TransientError("the GPU is busy", hint="try again")
        return {"text": "second time"}

    with working(reelgraph.Worker(server.url, server.key, runner)):
        task_id = server.submit("py.flaky", {}, max_attempts=3)
        record = server.wait_task(task_id)
    assert record["state"] == "completed", record
    assert record["outputs"] == {"text": "second time"}
    first, second = record["attempts"]
    assert first["outcome"] == "failed"
    assert (first["error"]["kind"], first["error"]["message"]) == ("transient", "the GPU is busy")
    assert second["outcome"] == "completed"


def test_a_cancelled_task_is_seen_by_a_plain_function(server: Server) -> None:
    runner = reelgraph.LocalRunner()
    started, saw_cancel = threading.Event(), threading.Event()

    @runner.function("py.long")
    def long(params, ctx):
        started.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ctx.progress(0.1, "working")
            if ctx.cancelled:
                saw_cancel.set()
                raise reelgraph.PermanentError("stopped")
            time.sleep(0.02)
        return {"text": "never cancelled"}

    with working(reelgraph.Worker(server.url, server.key, runner)):
        task_id = server.submit("py.long", {})
        assert started.wait(30)
        status, body = server.request("POST", f"/v1/tasks/{task_id}/cancel")
        assert status == 200, body
        assert saw_cancel.wait(30), "the function never saw the cancel"
        record = server.wait_task(task_id)
    assert record["state"] == "cancelled", record


def test_a_cancelled_task_cancels_an_async_function(server: Server) -> None:
    runner = reelgraph.LocalRunner()
    started, saw_cancel = threading.Event(), threading.Event()

    @runner.function("py.long_async")
    async def long(params, ctx):
        started.set()
        try:
            for _ in range(3000):
                ctx.progress(0.1)
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            saw_cancel.set()
            raise
        return {"text": "never cancelled"}

    with working(reelgraph.Worker(server.url, server.key, runner)):
        task_id = server.submit("py.long_async", {})
        assert started.wait(30)
        status, body = server.request("POST", f"/v1/tasks/{task_id}/cancel")
        assert status == 200, body
        assert saw_cancel.wait(30), "the coroutine was never cancelled"
        record = server.wait_task(task_id)
    assert record["state"] == "cancelled", record


def test_a_run_with_an_http_runner_is_done_by_a_python_worker(server: Server) -> None:
    runner = reelgraph.LocalRunner()
    seen = []

    def upper_seen(params, ctx):
        seen.append((ctx.run_id, ctx.node))
        return upper(params, ctx)

    runner.register("py.upper", upper_seen)
    canvas = canvas_of({"a": "py.upper", "b": "py.upper"}, edges=[("a", "b")])
    with working(reelgraph.Worker(server.url, server.key, runner, concurrency=2)):
        remote = reelgraph.HttpRunner(server.url, server.key)
        report = reelgraph.Executor(remote).start(canvas, run_id="remote_py").wait()
    assert report["status"] == "completed", report
    assert report["outputs"] == {"a": {"text": "A"}, "b": {"text": "B"}}
    # The worker's function knows the run and node each task is for.
    assert sorted(seen) == [("remote_py", "a"), ("remote_py", "b")]


def test_run_async_and_stop_from_the_loop(server: Server) -> None:
    runner = reelgraph.LocalRunner()
    runner.register("py.upper_async", upper)

    async def main():
        worker = reelgraph.Worker(server.url, server.key, runner)
        running = asyncio.ensure_future(worker.run_async())
        task_id = await asyncio.get_running_loop().run_in_executor(
            None, lambda: server.submit("py.upper_async", {"text": "x"}))
        record = await asyncio.get_running_loop().run_in_executor(None, server.wait_task, task_id)
        worker.stop()
        return record, await asyncio.wait_for(running, 30)

    record, stats = asyncio.run(main())
    assert record["outputs"] == {"text": "X"}
    assert stats["completed"] >= 1, stats


def test_ctrl_c_stops_a_blocking_run(server: Server) -> None:
    runner = reelgraph.LocalRunner()
    runner.register("py.upper", upper)
    worker = reelgraph.Worker(server.url, server.key, runner)
    started = threading.Event()
    started.set()
    with pytest.raises(KeyboardInterrupt):
        interrupted(worker.run, started)
    assert "stopped=True" in repr(worker), repr(worker)


def test_wrong_argument_types_are_type_errors(server: Server) -> None:
    runner = reelgraph.LocalRunner()
    with pytest.raises(TypeError, match="runner"):
        reelgraph.Worker(server.url, server.key, "not a runner")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        reelgraph.Worker(8080, server.key, runner)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        reelgraph.Worker(server.url, server.key, runner, functions="py.x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        reelgraph.Worker(server.url, server.key, runner, concurrency="4")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        reelgraph.HttpRunner(server.url, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="runner"):
        reelgraph.Executor(object())  # type: ignore[arg-type]


def test_a_worker_with_nothing_to_serve_or_a_bad_concurrency_is_refused(server: Server) -> None:
    with pytest.raises(reelgraph.ReelgraphError) as raised:
        reelgraph.Worker(server.url, server.key, reelgraph.LocalRunner())
    assert "functions" in str(raised.value)
    runner = reelgraph.LocalRunner()
    runner.register("py.upper", upper)
    with pytest.raises(reelgraph.ReelgraphError) as raised:
        reelgraph.Worker(server.url, server.key, runner, concurrency=65)
    assert "concurrency" in str(raised.value)


def test_a_server_url_that_is_not_an_http_url_is_refused() -> None:
    runner = reelgraph.LocalRunner()
    runner.register("py.upper", upper)
    for url in ("not a url", "https://farm.example"):
        with pytest.raises(reelgraph.ReelgraphError, match="http://"):
            reelgraph.Worker(url, "key", runner)
        with pytest.raises(reelgraph.ReelgraphError, match="http://"):
            reelgraph.HttpRunner(url, "key")


def test_a_run_against_an_unreachable_server_fails_its_tasks_as_transient() -> None:
    remote = reelgraph.HttpRunner("http://127.0.0.1:9", "key", give_up_after_ms=200)
    report = reelgraph.Executor(remote).start(canvas_of({"a": "py.upper"})).wait()
    assert report["status"] == "failed", report
    error = report["errors"]["a"]
    assert error["kind"] == "transient", error
    assert "unreachable" in error["message"], error


def test_a_worker_keeps_trying_an_unreachable_server_until_stopped() -> None:
    runner = reelgraph.LocalRunner()
    runner.register("py.upper", upper)
    worker = reelgraph.Worker("http://127.0.0.1:9", "key", runner, request_timeout_ms=200)
    with working(worker) as thread:
        time.sleep(0.3)
        assert thread.is_alive()
    assert worker.stats["claimed"] == 0, worker.stats


def test_a_bad_key_ends_the_worker_and_fails_a_remote_run(server: Server) -> None:
    runner = reelgraph.LocalRunner()
    runner.register("py.upper", upper)
    worker = reelgraph.Worker(server.url, "rg_not_a_key", runner)
    with pytest.raises(reelgraph.ReelgraphError) as raised:
        worker.run()
    assert "refused" in str(raised.value), raised.value
    remote = reelgraph.HttpRunner(server.url, "rg_not_a_key")
    report = reelgraph.Executor(remote).start(canvas_of({"a": "py.upper"})).wait()
    error = report["errors"]["a"]
    assert (error["kind"], "refused the key" in error["message"]) == ("permanent", True), error
