"""Runs from Python: waiting, events, asyncio, Ctrl-C, snapshots, caches,
batches, explanations and the demo canvas."""

import asyncio
import functools
import pathlib
import subprocess
import sys
import threading

import pytest

import reelgraph
from runs_support import Gate, canvas_of, interrupted, upper, wait_until

REPO = pathlib.Path(__file__).resolve().parents[2]


def executor_with(functions, **args):
    runner = reelgraph.LocalRunner()
    for name, function in functions.items():
        runner.register(name, function)
    return reelgraph.Executor(runner, **args)


def test_the_demo_canvas_makes_its_frames_and_edl(tmp_path):
    canvas = reelgraph.Canvas.from_json((REPO / "examples/short-film/canvas.json").read_text())
    runner = reelgraph.LocalRunner.with_demo_functions(str(tmp_path))
    report = reelgraph.Executor(runner, concurrency=2).start(canvas).wait()
    assert report["status"] == "completed", report["errors"]
    assert list(tmp_path.glob("**/*.png"))
    edls = list(tmp_path.glob("**/*.edl"))
    assert edls and "TITLE" in edls[0].read_text()


def test_events_are_typed_in_order_and_match_the_core_json():
    run = executor_with({"text.upper": upper}).start(canvas_of({"a": "text.upper"}), run_id="r1")
    events = list(run)
    assert [e.seq for e in events] == list(range(len(events)))
    assert events[0].type == "run_started" and events[-1].type == "run_completed"
    completed = next(e for e in events if e.type == "node_completed")
    assert completed.node == "a" and completed.run_id == "r1"
    assert completed.outputs == {"text": "A"}
    as_dict = completed.to_dict()
    assert as_dict["type"] == "node_completed" and as_dict["seq"] == completed.seq
    assert set(as_dict) == {"type", "run_id", "seq", "ts", "node", "outputs", "duration_ms", "overall"}
    assert as_dict["ts"] == completed.ts
    with pytest.raises(AttributeError, match="no field `nope`"):
        completed.nope
    assert events[0].node is None
    assert list(run.events()) == []  # one stream: each event comes out once


def test_await_and_async_for():
    executor = executor_with({"text.upper": upper})

    async def main():
        canvas = canvas_of({"a": "text.upper"})
        with pytest.raises(reelgraph.ReelgraphError) as refused:
            await executor.start_async(canvas, targets=["ghost"])
        assert refused.value.code == "unknown_node"
        run = await executor.start_async(canvas)
        types = [event.type async for event in run.events()]
        report = await run
        return types, report

    types, report = asyncio.run(main())
    assert types[0] == "run_started" and types[-1] == "run_completed"
    assert report["outputs"]["a"] == {"text": "A"}


def test_a_planned_run_follows_its_plan_and_refuses_a_stale_one():
    executor = executor_with({"text.upper": upper})
    canvas = canvas_of({"a": "text.upper", "b": "text.upper"})
    plan = executor.plan(canvas, targets=["a"])
    canvas.apply([{"op": "set_properties", "id": "a", "properties": {"text": "x"}}])

    async def main():
        with pytest.raises(reelgraph.ReelgraphError) as refused:
            await executor.start_planned_async(canvas, plan)
        assert refused.value.code == "stale_plan"
        plan.replan(canvas)
        return await (await executor.start_planned_async(canvas, plan))

    report = asyncio.run(main())
    # The plan's targets are the run's: b is not run.
    assert report["outputs"] == {"a": {"text": "X"}}
    with pytest.raises(reelgraph.ReelgraphError):
        plan.replan(reelgraph.Canvas("other", "Other"))
    with pytest.raises(reelgraph.ReelgraphError) as unknown:
        executor.plan(canvas, targets=["ghost"])
    assert unknown.value.code == "unknown_node"


def test_a_wait_with_a_timeout_leaves_the_run_going():
    gate = Gate()
    run = executor_with({"fn.gate": gate}).start(canvas_of({"a": "fn.gate"}))
    with pytest.raises(TimeoutError, match="still going"):
        run.wait(timeout=0.05)
    assert not run.done and run.report is None
    gate.release.set()
    assert run.wait(timeout=20)["status"] == "completed"
    assert run.done and run.report["status"] == "completed"


def test_ctrl_c_during_wait_cancels_the_run_and_is_raised():
    gate = Gate()
    run = executor_with({"fn.gate": gate}).start(canvas_of({"a": "fn.gate"}))
    with pytest.raises(KeyboardInterrupt):
        interrupted(run.wait, gate.started)
    assert run.done and run.report["status"] == "cancelled"
    assert gate.saw_cancel.wait(20)
    # The interpreter goes on: another run works.
    again = executor_with({"text.upper": upper}).start(canvas_of({"a": "text.upper"}))
    assert again.wait()["status"] == "completed"


def test_ctrl_c_while_iterating_events_cancels_the_run():
    gate = Gate()
    run = executor_with({"fn.gate": gate}).start(canvas_of({"a": "fn.gate"}))
    with pytest.raises(KeyboardInterrupt):
        interrupted(functools.partial(list, run), gate.started)
    assert run.done and run.report["status"] == "cancelled"


def test_a_run_outlives_the_thread_that_started_it():
    executor = executor_with({"text.upper": upper})
    made = {}
    thread = threading.Thread(target=lambda: made.update(run=executor.start(canvas_of({"a": "text.upper"}))))
    thread.start()
    thread.join()
    assert not thread.is_alive()
    assert made["run"].wait()["outputs"]["a"] == {"text": "A"}
    assert made["run"].snapshot()["state"] == "completed"


def test_snapshot_shows_the_state_while_running():
    gate = Gate()
    run = executor_with({"fn.gate": gate}).start(canvas_of({"a": "fn.gate"}))
    assert gate.started.wait(20)
    wait_until(lambda: run.snapshot()["nodes"].get("a", {}).get("state") == "running")
    assert run.snapshot()["state"] == "running"
    gate.release.set()
    run.wait()
    snapshot = run.snapshot()
    assert snapshot["state"] == "completed" and snapshot["overall"] == 1.0


def test_a_second_run_hits_the_cache_and_explain_says_so(tmp_path):
    for cache in (reelgraph.MemoryCache(), reelgraph.SqliteCache(str(tmp_path / "cache.db"))):
        executor = executor_with({"text.upper": upper}, cache=cache)
        canvas = canvas_of({"a": "text.upper"})
        assert [e["reason"] for e in executor.explain(canvas)] == ["new"]
        assert executor.start(canvas).wait()["stats"]["executed"] == 1
        assert [e["reason"] for e in executor.explain(canvas)] == ["cached"]
        again = executor.start(canvas).wait()
        assert (again["stats"]["executed"], again["stats"]["cache_hits"]) == (0, 1)
        assert cache.stats()["hits"] >= 1
        forced = executor.start(canvas, force=True).wait()
        assert forced["stats"]["executed"] == 1
        assert executor.explain(canvas, force=["a"])[0]["reason"] == "forced"


def test_targets_run_only_what_they_need():
    executor = executor_with({"text.upper": upper})
    canvas = canvas_of({"a": "text.upper", "b": "text.upper", "c": "text.upper"}, edges=[("a", "b")])
    report = executor.start(canvas, targets=["b"]).wait()
    assert sorted(report["outputs"]) == ["a", "b"]


def test_fail_fast_stops_the_rest():
    def fails(params, ctx):
        raise reelgraph.PermanentError("no")

    gate = Gate()
    executor = executor_with({"fn.fail": fails, "fn.gate": gate})
    canvas = canvas_of({"a": "fn.fail", "b": "fn.gate"})
    report = executor.start(canvas, failure_policy="fail_fast").wait(timeout=20)
    assert report["status"] == "failed"
    assert report["errors"]["a"]["kind"] == "permanent"


def test_bad_run_options_are_clear_errors():
    executor = executor_with({"text.upper": upper})
    canvas = canvas_of({"a": "text.upper"})
    with pytest.raises(reelgraph.ReelgraphError, match="quality"):
        executor.start(canvas, quality="cinematic")
    with pytest.raises(reelgraph.ReelgraphError, match="failure_policy|fail_fast"):
        executor.start(canvas, failure_policy="sometimes")
    with pytest.raises(reelgraph.ReelgraphError) as unknown:
        executor.start(canvas, targets=["ghost"])
    assert unknown.value.code == "unknown_node"
    with pytest.raises(TypeError, match="argument 'force'"):
        executor.start(canvas, force=3)
    with pytest.raises(ValueError, match="argument 'concurrency'"):
        reelgraph.Executor(reelgraph.LocalRunner(), concurrency=0)
    with pytest.raises(TypeError, match="canvas"):
        executor.start({"nodes": []})


def test_a_function_the_runner_does_not_know_refuses_the_run():
    executor = executor_with({})
    with pytest.raises(reelgraph.ReelgraphError) as refused:
        executor.start(canvas_of({"a": "text.upper"}))
    assert refused.value.code == "unknown_function"


def test_a_batch_runs_several_canvases():
    executor = executor_with({"text.upper": upper})
    one, two = canvas_of({"a": "text.upper"}), canvas_of({"b": "text.upper"})
    batch = executor.batch([one, (two, {"quality": "high", "run_id": "second"})])
    assert batch.run_ids[1] == "second"
    run_ids = {event.run_id for event in batch.events()}
    assert run_ids == set(batch.run_ids)
    reports = batch.wait()
    assert [r["status"] for r in reports] == ["completed", "completed"]
    assert reports[1]["outputs"]["b"] == {"text": "B"}
    assert batch.snapshot("second")["state"] == "completed"
    with pytest.raises(TypeError, match="argument 'jobs'"):
        executor.batch([42])


def test_progress_shows_a_bar_and_returns_the_report(capsys):
    pytest.importorskip("tqdm")
    executor = executor_with({"text.upper": upper})
    report = executor.start(canvas_of({"a": "text.upper", "b": "text.upper"})).progress(tqdm=True)
    assert report["status"] == "completed"
    assert "100%" in capsys.readouterr().err
    plain = executor.start(canvas_of({"c": "text.upper"})).progress(tqdm=False)
    assert plain["status"] == "completed"
    assert "completed c" in capsys.readouterr().err


def test_a_report_shows_itself_in_jupyter():
    def fails(params, ctx):
        raise reelgraph.PermanentError("no <model>")

    run = executor_with({"text.upper": upper, "fn.fail": fails}).start(
        canvas_of({"a": "text.upper", "b": "fn.fail"})
    )
    report = run.wait()
    html = report._repr_html_()
    assert "<table>" in html and "<code>a</code>" in html
    assert "no &lt;model&gt;" in html
    assert run._repr_html_() == html
    assert isinstance(report, dict) and report["status"] == "failed"


def test_importing_reelgraph_does_not_import_tqdm():
    code = "import sys, reelgraph; sys.exit('tqdm' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
