"""Python functions as runner functions: plain and async, progress,
errors, cancellation, timeouts, many at once."""

import asyncio
import math
import threading
import time

import pytest

import reelgraph
from runs_support import Gate, canvas_of, upper, wait_until


def run_one(function, name="fn.test", **executor_args):
    runner = reelgraph.LocalRunner()
    runner.register(name, function)
    executor = reelgraph.Executor(runner, **executor_args)
    return executor.start(canvas_of({"a": name})).wait()


def test_a_plain_function_gets_params_and_gives_outputs():
    runner = reelgraph.LocalRunner()

    @runner.function("text.upper")
    def shout(params, ctx):
        assert (ctx.node, ctx.function, ctx.quality) == ("a", "text.upper", "standard")
        assert ctx.idempotency_key
        return {"text": params["text"].upper() + "!"}

    assert callable(shout)  # the decorator returns the function
    report = reelgraph.Executor(runner).start(canvas_of({"a": "text.upper"})).wait()
    assert report["status"] == "completed"
    assert report["outputs"] == {"a": {"text": "A!"}}


def test_upstream_outputs_reach_the_next_function():
    runner = reelgraph.LocalRunner()
    runner.register("text.upper", lambda params, ctx: {"text": params["text"] + (params.get("upstream") or "")})
    canvas = canvas_of({"a": "text.upper", "b": "text.upper"}, edges=[("a", "b")])
    report = reelgraph.Executor(runner).start(canvas).wait()
    assert report["outputs"]["b"] == {"text": "ba"}


def test_an_async_function_runs_on_the_function_loop():
    runner = reelgraph.LocalRunner()
    seen = {}

    @runner.function("text.later")
    async def later(params, ctx):
        await asyncio.sleep(0.01)
        seen["thread"] = threading.current_thread().name
        return {"text": params["text"] * 2}

    report = reelgraph.Executor(runner).start(canvas_of({"a": "text.later"})).wait()
    assert report["outputs"]["a"] == {"text": "aa"}
    assert seen["thread"] == "reelgraph-functions"


def test_a_function_registered_after_the_executor_exists_is_used():
    runner = reelgraph.LocalRunner()
    executor = reelgraph.Executor(runner)
    runner.register("text.upper", upper)
    assert runner.functions() == ["text.upper"]
    assert executor.start(canvas_of({"a": "text.upper"})).wait()["status"] == "completed"


def test_progress_becomes_node_progress_events():
    def slow(params, ctx):
        ctx.progress(0.25)
        ctx.progress(0.5, message="half way")
        return {"text": "done"}

    runner = reelgraph.LocalRunner()
    runner.register("fn.slow", slow)
    run = reelgraph.Executor(runner).start(canvas_of({"a": "fn.slow"}))
    progress = [e.to_dict() for e in run if e.type == "node_progress"]
    assert [(p["progress"], p.get("message")) for p in progress] == [(0.25, None), (0.5, "half way")]


@pytest.mark.parametrize(
    "exception, kind",
    [
        (reelgraph.TransientError("busy, try later", hint="wait a minute"), "transient"),
        (reelgraph.ResourceError("out of GPU memory"), "resource"),
        (reelgraph.InvalidInputError("no prompt"), "invalid_input"),
        (reelgraph.PermanentError("model gone"), "permanent"),
        (TimeoutError("the model server did not answer"), "timeout"),
    ],
)
def test_exceptions_become_their_task_error_kind(exception, kind):
    def fails(params, ctx):
        raise exception

    report = run_one(fails)
    assert report["status"] == "failed"
    error = report["errors"]["a"]
    assert error["kind"] == kind
    assert str(exception) in error["message"]
    if isinstance(exception, reelgraph.FunctionError) and exception.hint:
        assert error["hint"] == exception.hint


def test_any_other_exception_is_permanent_with_its_traceback():
    def buggy(params, ctx):
        return {"text": params["missing"]}

    error = run_one(buggy, name="fn.buggy")["errors"]["a"]
    assert error["kind"] == "permanent"
    assert error["message"] == "KeyError: 'missing'"
    assert "fn.buggy" in error["hint"]
    assert error["details"]["exception"] == "KeyError"
    assert "in buggy" in error["details"]["traceback"]
    assert "Traceback" in error["details"]["traceback"]


def test_an_async_function_that_raises_is_a_task_error_too():
    async def fails(params, ctx):
        await asyncio.sleep(0)
        raise reelgraph.TransientError("flaky")

    assert run_one(fails)["errors"]["a"]["kind"] == "transient"


@pytest.mark.parametrize(
    "returned, words",
    [
        (["text", "A"], "returned list, not a dict of outputs"),
        (None, "returned NoneType, not a dict of outputs"),
        ({"text": math.nan}, "cannot be stored"),
        ({"nope": "A"}, "nope"),
    ],
)
def test_a_wrong_return_shape_is_a_clear_task_error(returned, words):
    error = run_one(lambda params, ctx: returned)["errors"]["a"]
    assert error["kind"] in ("permanent", "invalid_input")
    assert words in error["message"]


def test_registering_something_not_callable_is_a_type_error():
    runner = reelgraph.LocalRunner()
    with pytest.raises(TypeError, match="argument 'function'"):
        runner.register("fn.x", 42)
    with pytest.raises(TypeError, match="argument 'function'"):
        runner.function("fn.x")("not a function")


def test_cancelling_the_run_tells_a_plain_function():
    gate = Gate()
    runner = reelgraph.LocalRunner()
    runner.register("fn.gate", gate)
    run = reelgraph.Executor(runner).start(canvas_of({"a": "fn.gate"}))
    assert gate.started.wait(20)
    run.cancel()
    report = run.wait(timeout=20)
    assert report["status"] == "cancelled"
    assert gate.saw_cancel.wait(20)


def test_cancelling_the_run_cancels_a_coroutine():
    started, cancelled = threading.Event(), threading.Event()

    async def forever(params, ctx):
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {"text": "never"}

    runner = reelgraph.LocalRunner()
    runner.register("fn.forever", forever)
    run = reelgraph.Executor(runner).start(canvas_of({"a": "fn.forever"}))
    assert started.wait(20)
    run.cancel()
    assert run.wait(timeout=20)["status"] == "cancelled"
    assert cancelled.wait(20)


def test_cancelling_one_node_leaves_the_others():
    gate = Gate()
    runner = reelgraph.LocalRunner()
    runner.register("fn.gate", gate)
    runner.register("text.upper", upper)
    run = reelgraph.Executor(runner).start(canvas_of({"a": "fn.gate", "b": "text.upper"}))
    assert gate.started.wait(20)
    assert run.cancel_node("a") is True
    assert run.cancel_node("no_such_node") is False
    report = run.wait(timeout=20)
    assert report["outputs"]["b"] == {"text": "B"}
    assert "a" not in report["outputs"]


def test_a_function_that_never_returns_hits_the_timeout():
    stop = threading.Event()

    def stuck(params, ctx):
        stop.wait(60)  # ignores ctx.cancelled, as a stuck call would
        return {"text": "late"}

    try:
        report = run_one(stuck, resilience={"timeout_ms": 200, "timeout_grace_ms": 50})
    finally:
        stop.set()
    assert report["status"] == "failed"
    assert report["errors"]["a"]["kind"] == "timeout"


def test_many_functions_at_once_do_not_deadlock():
    runner = reelgraph.LocalRunner()

    @runner.function("fn.plain")
    def plain(params, ctx):
        time.sleep(0.001)
        ctx.progress(0.5)
        return {"text": params["text"]}

    @runner.function("fn.async")
    async def coroutine(params, ctx):
        await asyncio.sleep(0.001)
        ctx.progress(0.5)
        return {"text": params["text"]}

    nodes = {f"n{i}": ("fn.plain" if i % 2 else "fn.async") for i in range(200)}
    executor = reelgraph.Executor(runner, concurrency=32)
    report = executor.start(canvas_of(nodes)).wait(timeout=120)
    assert report["status"] == "completed"
    assert report["stats"]["executed"] == 200
    assert report["outputs"]["n7"] == {"text": "n7"}


def test_a_function_can_use_other_threads_that_take_the_gil():
    # The GIL is released while the core works: a helper thread of the
    # function's own runs while the function waits for it.
    def with_helper(params, ctx):
        out = []
        helper = threading.Thread(target=lambda: out.append(params["text"] * 3))
        helper.start()
        helper.join()
        return {"text": out[0]}

    assert run_one(with_helper)["outputs"]["a"] == {"text": "aaa"}


def test_demo_functions_sit_beside_python_functions(tmp_path):
    runner = reelgraph.LocalRunner.with_demo_functions(str(tmp_path))
    runner.register("text.upper", upper)
    assert "image.generate" in runner.functions()
    assert "text.upper" in runner.functions()


def test_a_coroutine_never_runs_on_the_callers_loop():
    runner = reelgraph.LocalRunner()
    loops = {}

    @runner.function("fn.where")
    async def where(params, ctx):
        loops["function"] = asyncio.get_running_loop()
        return {"text": "here"}

    async def main():
        loops["caller"] = asyncio.get_running_loop()
        return await reelgraph.Executor(runner).start(canvas_of({"a": "fn.where"}))

    assert asyncio.run(main())["status"] == "completed"
    assert loops["function"] is not loops["caller"]
