"""The shared vectors, `core/tests/vectors/<area>/<case>.json`, through the
public Python API: the cross-language contract of reelgraph.

Each vector is one test. It follows the steps of the Rust runner
(`core/tests/vectors.rs`) with the package's own calls, serialises results
with the core's serde (the dicts the binding returns, `event.to_dict()`,
the error's body), masks what `core/tests/vectors/README.md` says, and
compares canonically: objects by key, numbers by value, `True` never `1`.
It makes the same extra checks (a rejected apply changes nothing, the event
ops replay, the inverse undoes, `can_connect` agrees with `connect`, ...).
In `exec/`, each behaviour is a Python function, plain or `async def`
(alternately, so both paths run), registered with `reelgraph.LocalRunner`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Callable

import pytest

import reelgraph

VECTORS = Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors"
# Fewer than this means a path mistake, not a small suite (as in Rust).
MIN_VECTORS = 250
AREAS = (
    "connect", "errors", "events", "exec", "format", "import", "migrate", "ops", "preview",
    "spec", "validate",
)
ERROR_CALLS = ("connect", "exec", "format", "import", "migrate", "ops", "preview", "spec", "validate")
TS = "<ts>"
MS = "<ms>"
DEFAULT_CANVAS = ("vec", "Vector")


class Broken(Exception):
    """The vector itself is wrong (bad input, a setup op refused): always a failure."""


class Mismatch(Exception):
    """The binding behaved differently from what the vector pins."""


def vector_files() -> list[Path]:
    return sorted(VECTORS.glob("*/*.json"))


FILES = vector_files()


def test_every_area_and_enough_vectors() -> None:
    found = sorted(p.name for p in VECTORS.iterdir() if p.is_dir())
    assert found == sorted(AREAS), f"areas under {VECTORS}: {found}"
    for area in AREAS:
        assert any(p.parent.name == area for p in FILES), f"area {area} has no vectors"
    assert len(FILES) >= MIN_VECTORS, (
        f"found {len(FILES)} vectors under {VECTORS}, expected at least {MIN_VECTORS}: is the path right?"
    )


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_vector(path: Path) -> None:
    vector = json.loads(path.read_text(encoding="utf-8"))
    assert vector["name"] == path.stem, f"`name` is {vector['name']!r} but the file is {path.stem!r}"
    known_bug = vector.get("known_bug")
    try:
        outcome = run_area(path.parent.name, vector["input"])
        judge(vector, outcome)
    except Mismatch as e:
        if known_bug:
            pytest.xfail(f"known core bug: {known_bug}")
        pytest.fail(str(e), pytrace=False)
    if known_bug:
        pytest.fail("marked `known_bug` but now passes: the bug is fixed, remove `known_bug`", pytrace=False)


# ---------------------------------------------------------------------------
# Outcomes and judging
# ---------------------------------------------------------------------------


class ActualError:
    def __init__(self, error: reelgraph.ReelgraphError, op_rejection: bool) -> None:
        details = error.details
        self.body: dict[str, Any] = {"code": error.code, "details": details}
        if op_rejection:
            self.body["op_index"] = details.get("op_index") if isinstance(details, dict) else None
        self.message = error.message
        self.full = error.to_dict()


Outcome = Any  # a JSON value, or an ActualError


def judge(vector: dict[str, Any], outcome: Outcome) -> None:
    if "expected" in vector:
        want = vector["expected"]
        if isinstance(outcome, ActualError):
            raise Mismatch(f"expected a result, got error {outcome.body['code']}: {outcome.message}")
        if not same(want, outcome):
            raise Mismatch("expected (-) and actual (+) differ:\n" + diff(want, outcome))
        return
    want = dict(vector["expected_error"])
    part = want.pop("message_contains", None)
    if not isinstance(outcome, ActualError):
        raise Mismatch(f"expected error {want['code']}, got a result:\n{render(outcome)}")
    if not same(want, outcome.body):
        raise Mismatch(
            "expected_error (-) and actual error (+) differ:\n"
            + diff(want, outcome.body)
            + f"\n(message: {outcome.message})"
        )
    if part is not None and part not in outcome.message:
        raise Mismatch(f"the error message does not contain {part!r}:\n{outcome.message}")


def run_area(area: str, data: dict[str, Any]) -> Outcome:
    runs: dict[str, Callable[[dict[str, Any]], Outcome]] = {
        "ops": run_ops,
        "connect": run_connect,
        "validate": run_validate,
        "migrate": lambda d: run_load("migrate", d),
        "format": lambda d: run_load("format", d),
        "preview": run_preview,
        "spec": run_spec,
        "import": run_import,
        "errors": run_errors,
        "exec": run_exec,
        "events": run_events,
    }
    if area not in runs:
        raise Broken(f"unknown area `{area}`")
    return runs[area](data)


# ---------------------------------------------------------------------------
# Areas
# ---------------------------------------------------------------------------


def run_ops(data: dict[str, Any]) -> Outcome:
    allow_keys(data, "canvas", "catalog", "setup", "ops", "then_apply_inverse")
    then_undo = data.get("then_apply_inverse", False)
    catalog = catalog_from(data)
    canvas = canvas_from(data, catalog)
    apply_setup(canvas, data)
    before = canvas.to_json()
    try:
        applied = canvas.apply(compact(data["ops"]))
    except reelgraph.ReelgraphError as e:
        if then_undo:
            raise Broken(f"`then_apply_inverse` needs an apply that succeeds, got {e.code} ({e})") from None
        check_unchanged(before, canvas)
        # Ops that do not parse never reach the canvas: no op_index.
        return ActualError(e, op_rejection=e.code != "invalid_json")
    event_ops = checked_event_ops(applied, canvas)
    check_replay(catalog, before, event_ops, canvas)
    if then_undo:
        check_undo(canvas, before, applied["inverse"])
    return {
        "revision": applied["revision"],
        "inverse": applied["inverse"],
        "event_ops": event_ops,
        "canvas": canvas_json(canvas),
    }


def check_unchanged(before: str, canvas: reelgraph.Canvas) -> None:
    after = canvas.to_json()
    if after != before:
        raise Mismatch(
            "the rejected apply changed the canvas (it must stay byte for byte):\n"
            + diff(parse_canvas(before), parse_canvas(after))
        )


def checked_event_ops(applied: dict[str, Any], canvas: reelgraph.Canvas) -> Any:
    event = applied["event"]
    if (
        event.get("type") != "canvas_changed"
        or event.get("canvas_id") != canvas.id
        or event.get("revision") != applied["revision"]
        or event.get("seq") != applied["revision"]
        or applied["revision"] != canvas.revision
    ):
        raise Mismatch(
            f"the change event does not match the canvas (id {canvas.id}, revision {canvas.revision}):\n"
            + render(event)
        )
    return event["ops"]


def check_undo(canvas: reelgraph.Canvas, before: str, inverse: list[Any]) -> None:
    try:
        canvas.apply(compact(inverse))
    except reelgraph.ReelgraphError as e:
        raise Mismatch(f"applying the inverse failed: {e.code} ({e})\ninverse: {render(inverse)}") from None
    original = without(parse_canvas(before), "revision", "updated_at")
    restored = without(canvas_json(canvas), "revision", "updated_at")
    if not same(original, restored):
        raise Mismatch(
            "the inverse did not restore the original document (original -, after undo +):\n"
            + diff(original, restored)
        )


def check_replay(catalog: reelgraph.Catalog, before: str, event_ops: Any, canvas: reelgraph.Canvas) -> None:
    try:
        replica = reelgraph.Canvas.from_json(before, catalog=catalog)
    except reelgraph.ReelgraphError as e:
        raise Mismatch(f"the canvas does not reload from its own JSON: {e}") from None
    try:
        replica.apply(compact(event_ops))
    except reelgraph.ReelgraphError as e:
        raise Mismatch(f"replaying the event ops failed: {e.code} ({e})") from None
    want, got = canvas_json(canvas), canvas_json(replica)
    if not same(want, got):
        raise Mismatch(
            "replaying the event ops on the starting document gives another canvas (applied -, replayed +):\n"
            + diff(want, got)
        )


def run_connect(data: dict[str, Any]) -> Outcome:
    allow_keys(data, "canvas", "catalog", "setup", "source", "target")
    source, target = port_ref(data, "source"), port_ref(data, "target")
    catalog = catalog_from(data)
    canvas = canvas_from(data, catalog)
    apply_setup(canvas, data)
    before = canvas.to_json()
    answer: reelgraph.ReelgraphError | None = None
    try:
        canvas.can_connect(source, target)
    except reelgraph.ReelgraphError as e:
        answer = e
    if canvas.to_json() != before:
        raise Mismatch("can_connect changed the canvas")
    replica = reelgraph.Canvas.from_json(before, catalog=catalog)
    connect = {
        "op": "connect",
        "source": {"node": source[0], "port": source[1]},
        "target": {"node": target[0], "port": target[1]},
    }
    applied: reelgraph.ReelgraphError | None = None
    try:
        replica.apply([connect])
    except reelgraph.ReelgraphError as e:
        applied = e
    said, did = short(answer), short(applied)
    if said != did:
        raise Mismatch(f"can_connect says {said} but connect says {did}")
    return {"ok": True} if answer is None else ActualError(answer, op_rejection=False)


def short(error: reelgraph.ReelgraphError | None) -> str:
    return "ok" if error is None else error.code


def run_validate(data: dict[str, Any]) -> Outcome:
    allow_keys(data, "canvas", "catalog", "setup")
    catalog = catalog_from(data)
    canvas = canvas_from(data, catalog)
    apply_setup(canvas, data)
    return canvas.validate()


def run_load(area: str, data: dict[str, Any]) -> Outcome:
    allow_keys(data, "catalog", "canvas", "document_text")
    if "canvas" in data and "document_text" not in data:
        text = compact(data["canvas"])
    elif area == "format" and "document_text" in data and "canvas" not in data:
        text = data["document_text"]
        if not isinstance(text, str):
            raise Broken("`input.document_text` must be a string")
    elif area == "format":
        raise Broken("give exactly one of `input.canvas` and `input.document_text`")
    else:
        raise Broken("`input.canvas` is required")
    catalog = catalog_from(data)
    try:
        canvas = reelgraph.Canvas.from_json(text, catalog=catalog)
    except reelgraph.ReelgraphError as e:
        return ActualError(e, op_rejection=False)
    written = canvas.to_json()
    try:
        reloaded = reelgraph.Canvas.from_json(written, catalog=catalog)
    except reelgraph.ReelgraphError as e:
        raise Mismatch(f"the loaded canvas does not reload from its own JSON: {e}") from None
    if reloaded.to_json() != written:
        raise Mismatch(
            "reloading the written document changes it (written -, reloaded +):\n"
            + diff(parse_canvas(written), parse_canvas(reloaded.to_json()))
        )
    return {
        "migrations": canvas.migrations_applied,
        "canvas": canvas_json(canvas),
        "report": canvas.validate(),
    }


def run_preview(data: dict[str, Any]) -> Outcome:
    allow_keys(data, "canvas", "catalog", "setup", "node", "quality")
    node, quality = data.get("node"), data.get("quality")
    if not isinstance(node, str) or not isinstance(quality, str):
        raise Broken("`input.node` and `input.quality` must be strings")
    catalog = catalog_from(data)
    canvas = canvas_from(data, catalog)
    apply_setup(canvas, data)
    try:
        return canvas.task_preview(node, quality)
    except reelgraph.ReelgraphError as e:
        return ActualError(e, op_rejection=False)


def run_spec(data: dict[str, Any]) -> Outcome:
    allow_keys(data, "catalog", "spec")
    if "spec" not in data:
        raise Broken("`input.spec` is missing")
    spec = data["spec"]
    catalog = catalog_from(data)
    items = spec if isinstance(spec, list) else [spec]
    names = [s["type"] for s in items if isinstance(s, dict) and isinstance(s.get("type"), str)]
    versions_before = versions(catalog, names)
    try:
        registered = catalog.register(compact(spec))
    except reelgraph.ReelgraphError as e:
        if versions(catalog, names) != versions_before:
            raise Mismatch("a refused registration changed the catalogue (it is all or none)") from None
        return ActualError(e, op_rejection=False)
    for name in registered:
        if name not in catalog:
            raise Mismatch(f"`{name}` was registered but is not in the catalogue")
    if isinstance(spec, list):
        return {"types": registered}
    if len(registered) != 1:
        raise Mismatch(f"one spec registered as {registered}")
    return {"type": registered[0]}


def versions(catalog: reelgraph.Catalog, names: list[str]) -> list[int | None]:
    return [catalog.spec(n)["version"] if n in catalog else None for n in names]


def run_import(data: dict[str, Any]) -> Outcome:
    allow_keys(data, "catalog", "data", "data_text", "format")
    if "data" in data and "data_text" not in data:
        text = compact(data["data"])
    elif "data_text" in data and "data" not in data:
        text = data["data_text"]
        if not isinstance(text, str):
            raise Broken("`input.data_text` must be a string")
    else:
        raise Broken("give exactly one of `input.data` and `input.data_text`")
    fmt = data.get("format")
    catalog = catalog_from(data)
    try:
        imported = reelgraph.import_any(text, catalog=catalog, format=fmt)
    except reelgraph.ReelgraphError as e:
        return ActualError(e, op_rejection=False)
    result = imported.to_dict()
    if fmt is None:
        try:
            told = reelgraph.detect_format(text)
        except reelgraph.ReelgraphError as e:
            raise Mismatch(f"import_any read it, but detect_format refuses it: {e}") from None
        if told != result["format"]:
            raise Mismatch(f"detect_format says {told}, import_any read {result['format']}")
    for name in result["registered_types"]:
        if name not in catalog:
            raise Mismatch(f"`{name}` is reported registered but is not in the catalogue")
    try:
        reelgraph.Canvas.from_dict(result["canvas"], catalog=catalog)
    except reelgraph.ReelgraphError as e:
        raise Mismatch(f"the imported document does not load: {e.code} ({e})") from None
    mask_timestamps(result["canvas"])
    return result


def run_errors(data: dict[str, Any]) -> Outcome:
    call = data.get("call")
    if not isinstance(call, str):
        raise Broken("`input.call` is missing or not a string")
    rest = {k: v for k, v in data.items() if k != "call"}
    if call == "error_table":
        allow_keys(rest)
        rows = [
            {key: row[key] for key in ("code", "category", "http_status")}
            for row in reelgraph._native.error_table()
        ]
        # The exception classes are made from this table: each code's class
        # is of the code's category.
        for row in rows:
            raised_as = reelgraph.class_for_code(row["code"])
            if raised_as.category != row["category"]:
                raise Mismatch(f"`{row['code']}` is raised as {raised_as.__name__}, not of {row['category']}")
        return rows
    if call not in ERROR_CALLS:
        raise Broken(f"`input.call` is `{call}`; allowed: error_table, {', '.join(ERROR_CALLS)}")
    outcome = run_area(call, rest)
    if not isinstance(outcome, ActualError):
        raise Mismatch(f"the `{call}` call succeeded; this vector pins its failure. It gave:\n{render(outcome)}")
    if sorted(outcome.full) != ["code", "details", "hint", "message"]:
        raise Mismatch(f"the error body has the fields {sorted(outcome.full)}")
    return outcome.full


def run_events(data: dict[str, Any]) -> Outcome:
    allow_keys(data, "catalog", "canvas", "setup", "applies")
    catalog = catalog_from(data)
    canvas = canvas_from(data, catalog)
    apply_setup(canvas, data)
    applies = data.get("applies")
    if not isinstance(applies, list) or not applies:
        raise Broken("`input.applies` must be a non-empty array of op arrays")
    events: list[Any] = []
    for i, ops in enumerate(applies):
        if not isinstance(ops, list):
            raise Broken(f"`input.applies[{i}]` must be an array of ops")
        before = canvas.to_json()
        try:
            applied = canvas.apply(compact(ops))
        except reelgraph.ReelgraphError as e:
            if e.code == "invalid_json":
                raise Broken(f"`input.applies[{i}]` does not parse: {e}") from None
            check_unchanged(before, canvas)
            events.append(None)
            continue
        event = applied["event"]
        mask_event(event)
        events.append(event)
    return {"events": events}


# ---------------------------------------------------------------------------
# exec/: runs with functions made from the vector's data
# ---------------------------------------------------------------------------


def run_exec(data: dict[str, Any]) -> Outcome:
    allow_keys(data, "catalog", "canvas", "setup", "functions", "steps")
    catalog = catalog_from(data)
    canvas = canvas_from(data, catalog)
    apply_setup(canvas, data)
    functions = data.get("functions")
    if not isinstance(functions, dict):
        raise Broken("`input.functions` is missing or not an object")
    def outputs_of(node: str) -> list[str]:
        # A task's declared outputs are those of its node's type.
        doc = canvas.to_dict()
        type_name = next(n["type"] for n in doc["nodes"] if n["id"] == node)
        return [port["name"] for port in catalog.spec(type_name).get("outputs", [])]

    runner = reelgraph.LocalRunner()
    for i, (name, behaviour) in enumerate(sorted(functions.items())):
        runner.function(name)(make_function(name, behaviour, outputs_of, use_async=i % 2 == 1))
    # One task at a time keeps the event order deterministic.
    executor = reelgraph.Executor(runner, concurrency=1)
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise Broken("`input.steps` is missing or not a non-empty array")
    plan: Any = None
    results: list[Any] = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or len(step) != 1:
            raise Broken(f"`input.steps[{i}]` must be an object with one key")
        ((kind, arg),) = step.items()
        try:
            if kind == "run":
                results.append(run_result(executor.start(canvas, **named_run(arg))))
            elif kind == "explain":
                results.append(executor.explain(canvas, **explain_options(arg)))
            elif kind == "plan":
                # A plan keeps targets and quality; force belongs to the run.
                plan = executor.plan(canvas, **planned(explain_options(arg), keep=True))
                results.append(None)
            elif kind == "run_planned":
                if plan is None:
                    raise Broken(f"`input.steps[{i}]`: run_planned needs a plan step before it")
                results.append(run_result(executor.start_planned(canvas, plan, **planned(named_run(arg), keep=False))))
            elif kind == "apply":
                try:
                    canvas.apply(compact(arg))
                except reelgraph.ReelgraphError as e:
                    raise Broken(f"`input.steps[{i}].apply` was rejected: {e.code} ({e})") from None
                results.append(None)
            else:
                raise Broken(
                    f"`input.steps[{i}]`: unknown step `{kind}` (run, explain, plan, run_planned, apply)"
                )
        except reelgraph.ReelgraphError as e:
            # A refused step ends the vector: that error is its outcome.
            return ActualError(e, op_rejection=False)
    return {"steps": results}


def run_options(options: Any) -> dict[str, Any]:
    """A vector's run options as keyword arguments; absent fields take the
    defaults of the core's `RunOptions` (the Python API's own default
    quality is `draft`)."""
    if not isinstance(options, dict):
        raise Broken("run options must be an object")
    options = {"quality": "standard", **options}
    # The wire's `{"nodes": [ids]}` is a list of ids in Python.
    if isinstance(options.get("force"), dict):
        options["force"] = options["force"]["nodes"]
    return options


def named_run(options: Any) -> dict[str, Any]:
    if not isinstance(options, dict) or "run_id" not in options:
        raise Broken("a run step needs a `run_id` in its options")
    return run_options(options)


def explain_options(options: Any) -> dict[str, Any]:
    """Planning reads only `targets`, `quality` and `force`."""
    return {k: v for k, v in run_options(options).items() if k in ("targets", "quality", "force")}


def planned(options: dict[str, Any], keep: bool) -> dict[str, Any]:
    """The options `Executor.plan` takes (keep) or `start_planned` takes
    (not keep): targets and quality are the plan's, not the run's."""
    return {k: v for k, v in options.items() if (k in ("targets", "quality")) == keep}


def run_result(run: reelgraph.Run) -> dict[str, Any]:
    """Runs to the end: `{report, events}`, masked, after checking that the
    events are numbered without gaps, belong to the run and end with its stats."""
    events = [event.to_dict() for event in run.events()]
    report = run.wait()
    for i, event in enumerate(events):
        if event.get("seq") != i or event.get("run_id") != report["run_id"]:
            raise Mismatch(
                f"event {i} has seq {event.get('seq')} and run_id {event.get('run_id')} "
                f"(the run is {report['run_id']}):\n{render(event)}"
            )
    if not events or events[-1].get("stats") != report["stats"]:
        raise Mismatch("the last event does not end the run with its stats:\n" + render(events[-1:]))
    mask_durations(report)
    for event in events:
        mask_event(event)
    return {"report": report, "events": events}


BEHAVIOUR_KEYS = {"progress", "outputs", "echo", "fails", "fails_for"}


def task_error(fails: dict[str, Any]) -> BaseException:
    """The exception a Python function raises for a vector's task error."""
    kind, message, hint = fails["kind"], fails["message"], fails.get("hint", "")
    if kind == "cancelled":
        return asyncio.CancelledError(message)
    if kind == "timeout":
        return TimeoutError(message)
    classes = {
        "transient": reelgraph.TransientError,
        "resource": reelgraph.ResourceError,
        "invalid_input": reelgraph.InvalidInputError,
        "permanent": reelgraph.PermanentError,
    }
    return classes[kind](message, hint=hint)


def make_function(
    name: str, behaviour: Any, outputs_of: Callable[[str], list[str]], *, use_async: bool
) -> Callable[..., Any]:
    """A Python function that does what `behaviour` says: report `progress`,
    then raise `fails` (for every task, or the nodes of `fails_for`), or
    return `outputs`, or with `echo` the params on every declared output."""
    if not isinstance(behaviour, dict) or set(behaviour) - BEHAVIOUR_KEYS:
        raise Broken(f"`input.functions.{name}`: an object with only {sorted(BEHAVIOUR_KEYS)}")
    progress = behaviour.get("progress", [])
    fails = behaviour.get("fails")
    fails_for = behaviour.get("fails_for")
    outputs = behaviour.get("outputs")
    echo = behaviour.get("echo", False)
    if outputs is not None and echo:
        raise Broken(f"`input.functions.{name}`: give `outputs` or `echo`, not both")
    if outputs is None and not echo and (fails is None or fails_for is not None):
        raise Broken(f"`input.functions.{name}`: give `outputs` or `echo` (or `fails` without `fails_for`)")
    if fails_for is not None and fails is None:
        raise Broken(f"`input.functions.{name}`: `fails_for` needs `fails`")

    def perform(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        for p in progress:
            ctx.progress(p)
        if fails is not None and (fails_for is None or ctx.node in fails_for):
            raise task_error(fails)
        if echo:
            return {port: params for port in outputs_of(ctx.node)}
        return outputs

    if not use_async:
        return perform

    async def perform_async(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return perform(params, ctx)

    return perform_async


# ---------------------------------------------------------------------------
# Input helpers
# ---------------------------------------------------------------------------


def allow_keys(data: dict[str, Any], *allowed: str) -> None:
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise Broken(f"unknown input field `{unknown[0]}` (allowed here: {', '.join(allowed)})")


def compact(value: Any) -> str:
    """A JSON value as the text the call takes, written as the README says."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def port_ref(data: dict[str, Any], key: str) -> tuple[str, str]:
    ref = data.get(key)
    if not isinstance(ref, dict) or set(ref) != {"node", "port"}:
        raise Broken(f"`input.{key}` must be {{node, port}}")
    return (ref["node"], ref["port"])


def catalog_from(data: dict[str, Any]) -> reelgraph.Catalog:
    catalog = reelgraph.Catalog.builtin()
    specs = data.get("catalog", [])
    if not isinstance(specs, list):
        raise Broken("`input.catalog` must be an array of specs")
    for i, spec in enumerate(specs):
        try:
            catalog.register(compact(spec))
        except reelgraph.ReelgraphError as e:
            raise Broken(f"`input.catalog[{i}]` was refused: {e.code} ({e})") from None
    return catalog


def canvas_from(data: dict[str, Any], catalog: reelgraph.Catalog) -> reelgraph.Canvas:
    doc = data.get("canvas")
    if doc is None:
        return reelgraph.Canvas(*DEFAULT_CANVAS, catalog=catalog)
    if not isinstance(doc, dict):
        raise Broken("`input.canvas` must be a canvas document object")
    try:
        return reelgraph.Canvas.from_json(compact(doc), catalog=catalog)
    except reelgraph.ReelgraphError as e:
        raise Broken(f"`input.canvas` does not load: {e.code} ({e})") from None


def apply_setup(canvas: reelgraph.Canvas, data: dict[str, Any]) -> None:
    setup = data.get("setup")
    if setup is None:
        return
    if not isinstance(setup, list):
        raise Broken("`input.setup` must be an array of ops")
    try:
        canvas.apply(compact(setup))
    except reelgraph.ReelgraphError as e:
        raise Broken(f"`input.setup` was rejected: {e.code} ({e}) {e.details}") from None


# ---------------------------------------------------------------------------
# Canonical JSON
# ---------------------------------------------------------------------------


def canvas_json(canvas: reelgraph.Canvas) -> Any:
    return parse_canvas(canvas.to_json())


def parse_canvas(text: str) -> Any:
    doc = json.loads(text)
    mask_timestamps(doc)
    return doc


def mask_timestamps(doc: Any) -> None:
    """A document's `created_at` and `updated_at`, when non-empty strings, become "<ts>"."""
    if isinstance(doc, dict):
        for key in ("created_at", "updated_at"):
            if isinstance(doc.get(key), str) and doc[key]:
                doc[key] = TS


def mask_event(event: Any) -> None:
    if isinstance(event.get("ts"), str) and event["ts"]:
        event["ts"] = TS
    mask_durations(event)


def mask_durations(value: dict[str, Any]) -> None:
    if is_number(value.get("duration_ms")):
        value["duration_ms"] = MS
    stats = value.get("stats")
    if isinstance(stats, dict) and is_number(stats.get("duration_ms")):
        stats["duration_ms"] = MS


def without(value: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in keys}


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same(a: Any, b: Any) -> bool:
    """The README's canonical equality: numbers by value, `True` is not `1`."""
    if is_number(a) and is_number(b):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return float(a) == float(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def render(value: Any, limit: int = 1500) -> str:
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters in all)"


def diff(want: Any, got: Any, limit: int = 25) -> str:
    """Every place where `want` and `got` differ, as JSON pointers with both values."""
    lines: list[str] = []

    def walk(path: str, w: Any, g: Any) -> None:
        if isinstance(w, dict) and isinstance(g, dict):
            for key in sorted(set(w) | set(g)):
                child = f"{path}/{key}"
                if key not in g:
                    lines.append(f"at {child}: missing\n  - {render(w[key])}")
                elif key not in w:
                    lines.append(f"at {child}: not expected\n  + {render(g[key])}")
                else:
                    walk(child, w[key], g[key])
        elif isinstance(w, list) and isinstance(g, list) and len(w) == len(g):
            for i, (x, y) in enumerate(zip(w, g)):
                walk(f"{path}/{i}", x, y)
        elif not same(w, g):
            lines.append(f"at {path or '(root)'}:\n  - {render(w)}\n  + {render(g)}")

    walk("", want, got)
    shown = "\n".join(lines[:limit])
    return shown + (f"\n… and {len(lines) - limit} more differences" if len(lines) > limit else "")
