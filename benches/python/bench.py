"""Times reelgraph from Python against the plain-Python baseline and against Rust.

    make bench-python            (exports the canvas, builds a release wheel, runs this)
    python benches/python/bench.py [--data DIR] [--runs N]

Reads the files `export_canvas` writes (DIR, default target/bench-canvas) and
`rust.json` there (the medians of `rust_reference`). Prints medians and
ratios, one row per goal of the Python bindings' issue:

- op by op: the 10,000-node / 20,000-edge canvas built with one `apply` per op,
  then validated and put in topological order, against the baseline;
- one apply: the same with all 30,000 ops in one `apply`, against the baseline;
- load + validate: from the JSON document, against the baseline;
- 100k ops: one `apply` of 100,000 ops, against the same in Rust;
- no-op run: 10,000 Python functions that do nothing, the time per task
  beyond the function itself and beyond the same run with a Rust function
  (on an executor with a run hub, as the binding's executor has; the run
  without a hub is printed too);
- import: `import reelgraph` in a fresh interpreter.

Every timed step is checked (a clean report, the node count), so a failure
is never timed as a success. The JSON texts are parsed before the timing
where the row is not about parsing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import baseline
import reelgraph


def median_of(runs: int, once: Callable[[], float]) -> float:
    return statistics.median(once() for _ in range(runs))


def timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


class Data:
    def __init__(self, directory: Path) -> None:
        def read(name: str) -> str:
            path = directory / name
            if not path.exists():
                sys.exit(f"{path} is missing: run `make bench-canvas` (or `make bench-python`)")
            return path.read_text()

        self.meta = json.loads(read("meta.json"))
        self.ops = json.loads(read("ops.json"))
        self.document = read("canvas.json")
        self.big_ops = json.loads(read("ops-100k.json"))
        self.steps = read("steps.json")
        self.step_type = read("step-type.json")
        self.rust = json.loads(read("rust.json"))


def reelgraph_op_by_op(data: Data) -> float:
    def work() -> None:
        canvas = reelgraph.Canvas("bench", "Benchmark canvas")
        for op in data.ops:
            canvas.apply([op])
        check_reelgraph(canvas, data)

    return timed(work)


def reelgraph_one_apply(data: Data) -> float:
    def work() -> None:
        canvas = reelgraph.Canvas("bench", "Benchmark canvas")
        canvas.apply(data.ops)
        check_reelgraph(canvas, data)

    return timed(work)


def check_reelgraph(canvas: reelgraph.Canvas, data: Data) -> None:
    report = canvas.validate()
    assert report["valid"] and not report["diagnostics"], report["diagnostics"][:3]
    assert len(canvas.topological_order()) == data.meta["nodes"]


def reelgraph_load(data: Data) -> float:
    def work() -> None:
        canvas = reelgraph.Canvas.from_json(data.document)
        report = canvas.validate()
        assert report["valid"] and not report["diagnostics"], report["diagnostics"][:3]

    return timed(work)


def baseline_build(data: Data, catalog: baseline.Catalog) -> float:
    def work() -> None:
        canvas = baseline.Canvas(catalog)
        for op in data.ops:
            canvas.apply(op)
        assert not canvas.validate()
        assert len(canvas.topological_order()) == data.meta["nodes"]

    return timed(work)


def baseline_load(data: Data, catalog: baseline.Catalog) -> float:
    def work() -> None:
        canvas = baseline.load(data.document, catalog)
        assert not canvas.validate()

    return timed(work)


def reelgraph_big_apply(data: Data) -> float:
    canvas = reelgraph.Canvas("bench", "Benchmark canvas")
    elapsed = timed(lambda: canvas.apply(data.big_ops))
    assert canvas.revision == 1
    return elapsed


def step(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"out": True}


def reelgraph_steps_run(data: Data) -> float:
    catalog = reelgraph.Catalog.builtin()
    catalog.register(data.step_type)
    canvas = reelgraph.Canvas.from_json(data.steps, catalog=catalog)
    runner = reelgraph.LocalRunner()
    runner.function("step")(step)
    executor = reelgraph.Executor(runner)

    def work() -> None:
        report = executor.start(canvas).wait()
        assert report["status"] == "completed", report["status"]

    return timed(work)


def function_itself(tasks: int) -> float:
    """What calling the no-op function costs in plain Python, per run."""
    params: dict[str, Any] = {"n": 0, "in": [True, True]}
    return timed(lambda: [step(params, None) for _ in range(tasks)])


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import reelgraph; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout)


def row(name: str, ours: float, theirs: float | None, note: str) -> None:
    ratio = f"{theirs / ours:7.1f}x" if theirs is not None else " " * 8
    other = f"{theirs * 1e3:10.1f} ms" if theirs is not None else " " * 13
    print(f"{name:<22} {ours * 1e3:10.1f} ms {other} {ratio}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("target/bench-canvas"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = Data(args.data)
    catalog = baseline.Catalog()
    runs = args.runs
    nodes, edges = data.meta["nodes"], data.meta["edges"]
    print(f"canvas: {nodes} nodes, {edges} edges; medians of {runs} runs; Python {sys.version.split()[0]}")
    print(f"{'':<22} {'reelgraph':>13} {'other':>13} {'ratio':>8}  goal")

    # The baseline has no batches: one build is its answer to both rows.
    base_build = median_of(runs, lambda: baseline_build(data, catalog))
    row("op by op + validate", median_of(runs, lambda: reelgraph_op_by_op(data)),
        base_build, "baseline / reelgraph >= 10x")
    row("one apply + validate", median_of(runs, lambda: reelgraph_one_apply(data)),
        base_build, "baseline / reelgraph >= 25x")
    row("load + validate", median_of(runs, lambda: reelgraph_load(data)),
        median_of(runs, lambda: baseline_load(data, catalog)), "baseline / reelgraph >= 25x")

    big = median_of(runs, lambda: reelgraph_big_apply(data))
    rust_big = data.rust["apply_100k"]
    print(f"{'100k ops, one apply':<22} {big * 1e3:10.1f} ms {rust_big * 1e3:10.1f} ms "
          f"{big / rust_big:7.2f}x  Python / Rust <= 1.5x")

    tasks = data.meta["steps"]
    run = median_of(runs, lambda: reelgraph_steps_run(data))
    own = median_of(runs, lambda: function_itself(tasks))
    rust_run = data.rust["run_steps"]
    per_task = (run - own) / tasks
    beyond_rust = (run - own - rust_run) / tasks
    print(f"{'no-op run':<22} {run * 1e3:10.1f} ms {rust_run * 1e3:10.1f} ms "
          f"{per_task * 1e6:6.1f} us/task in all, {beyond_rust * 1e6:.1f} us/task beyond Rust"
          f"  (goal <= 15 us)")
    print(f"{'':<22} {'':>13} {data.rust['run_steps_without_hub'] * 1e3:10.1f} ms  "
          "the Rust run without a run hub")

    imported = median_of(max(runs, 5), import_time)
    print(f"{'import reelgraph':<22} {imported * 1e3:10.1f} ms {'':>13} {'':>8}  <= 50 ms")


if __name__ == "__main__":
    main()
