"""A run in the parent, fork(), a run in the child: the child makes its own
runtime and function loop."""

import asyncio
import os
import sys

import pytest

import reelgraph
from runs_support import canvas_of, upper

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def runs(executor, name):
    report = executor.start(canvas_of({"a": name}), force=True).wait(timeout=60)
    return report["status"] == "completed"


def test_a_run_in_a_child_after_a_run_in_the_parent(tmp_path):
    runner = reelgraph.LocalRunner()
    runner.register("text.upper", upper)

    @runner.function("text.async")
    async def later(params, ctx):
        await asyncio.sleep(0)
        return {"text": params["text"]}

    executor = reelgraph.Executor(runner)
    assert runs(executor, "text.upper") and runs(executor, "text.async")
    store_path = str(tmp_path / "store.db")
    reelgraph.SqliteStore(store_path).create(reelgraph.Canvas("reel", "Reel"))

    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        try:
            ok = runs(executor, "text.upper") and runs(executor, "text.async")
            # SQLite connections do not cross a fork: open the store again.
            ok = ok and reelgraph.SqliteStore(store_path).get("reel").id == "reel"
            os._exit(0 if ok else 1)
        except BaseException as e:  # noqa: BLE001 - anything is a failure here
            print(f"child failed: {e!r}", file=sys.stderr)
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's runtime is untouched by the child.
    assert runs(executor, "text.upper")
