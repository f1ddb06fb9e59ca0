"""Canvas and catalogue behaviour through the Python API."""

import json
import threading

import pytest

import reelgraph
from conftest import ROOT, shot_and_frame_ops


def test_a_new_canvas_has_its_id_name_and_revision_zero():
    canvas = reelgraph.Canvas("film", "Film")
    assert (canvas.id, canvas.name, canvas.revision) == ("film", "Film", 0)
    doc = canvas.to_dict()
    assert doc["format"] == "reelgraph.canvas"
    assert (doc["nodes"], doc["edges"]) == ([], [])


def test_apply_returns_the_cores_applied_and_bumps_the_revision(canvas):
    applied = canvas.apply([{"op": "move_node", "id": "shot_1", "position": {"x": 10, "y": 20}}])
    assert applied["revision"] == 2 == canvas.revision
    assert applied["inverse"] == [
        {"op": "move_node", "id": "shot_1", "position": {"x": 0.0, "y": 0.0}}
    ]
    assert applied["event"]["type"] == "canvas_changed"
    assert applied["event"]["revision"] == 2
    assert canvas.node("shot_1")["position"] == {"x": 10.0, "y": 20.0}


def test_applied_converts_what_is_read_and_reads_like_its_dict(canvas):
    applied = canvas.apply({"op": "set_label", "id": "shot_1", "label": "Opening"})
    assert isinstance(applied, reelgraph.Applied)
    whole = applied.to_dict()
    assert set(whole) == set(applied.keys()) == {"revision", "inverse", "event"}
    assert whole == {key: applied[key] for key in applied.keys()}
    assert (applied.revision, applied.inverse, applied.event) == (
        whole["revision"], whole["inverse"], whole["event"])
    assert repr(applied) == "<Applied revision 2: 1 inverse ops>"
    with pytest.raises(KeyError):
        applied["ops"]


@pytest.mark.parametrize(
    "ops",
    [
        {"op": "set_label", "id": "shot_1", "label": "Opening"},
        ({"op": "set_label", "id": "shot_1", "label": "Opening"},),
        '{"op": "set_label", "id": "shot_1", "label": "Opening"}',
        '[{"op": "set_label", "id": "shot_1", "label": "Opening"}]',
    ],
    ids=["one dict", "tuple", "text of one op", "text of a list"],
)
def test_ops_are_taken_as_dicts_lists_tuples_or_json_text(canvas, ops):
    canvas.apply(ops)
    assert canvas.node("shot_1")["label"] == "Opening"


def test_a_rejected_apply_changes_nothing_byte_for_byte(canvas):
    before = canvas.to_json()
    with pytest.raises(reelgraph.ReelgraphError) as caught:
        canvas.apply([
            {"op": "add_node", "id": "shot_2", "type": "shot"},
            {"op": "add_node", "id": "shot_2", "type": "shot"},
        ])
    assert caught.value.code == "duplicate_id"
    assert caught.value.details["op_index"] == 1
    assert canvas.to_json() == before
    assert canvas.revision == 1


def test_undo_and_redo_walk_the_applies_back_and_forth(canvas):
    first = canvas.to_dict()
    canvas.apply({"op": "set_properties", "id": "frame_1", "properties": {"seed": 7}})
    assert canvas.can_undo and not canvas.can_redo

    undone = canvas.undo()
    assert undone["revision"] == 3  # an undo is an apply: the revision goes on
    assert canvas.node("frame_1")["properties"]["seed"] == 42
    assert canvas.can_redo

    canvas.redo()
    assert canvas.node("frame_1")["properties"]["seed"] == 7

    canvas.undo()
    canvas.undo()  # the first apply: the canvas is empty again
    assert canvas.to_dict()["nodes"] == []
    assert canvas.undo() is None
    assert first["nodes"] != []


def test_a_new_apply_clears_redo(canvas):
    canvas.undo()
    assert canvas.can_redo
    canvas.apply({"op": "add_node", "id": "act_1", "type": "act"})
    assert not canvas.can_redo
    assert canvas.redo() is None


def test_can_connect_answers_none_or_raises_what_connect_would(canvas):
    canvas.apply({"op": "add_node", "id": "frame_2", "type": "image_gen"})
    assert canvas.can_connect(("shot_1", "shot"), ("frame_2", "shot")) is None
    assert canvas.can_connect({"node": "shot_1", "port": "shot"},
                              {"node": "frame_2", "port": "shot"}) is None
    with pytest.raises(reelgraph.ConnectionRejected) as caught:
        canvas.can_connect(("shot_1", "shot"), ("frame_1", "shot"))
    assert caught.value.code == "duplicate_edge"
    with pytest.raises(reelgraph.NotFound) as caught:
        canvas.can_connect(("shot_1", "nope"), ("frame_2", "shot"))
    assert caught.value.code == "unknown_port"
    assert canvas.revision == 2  # asking changed nothing


def test_validate_returns_the_report(canvas):
    assert canvas.validate() == {"valid": True, "errors": 0, "warnings": 0, "diagnostics": []}
    broken = reelgraph.Canvas("b", "B")
    broken.apply({"op": "add_node", "id": "blur", "type": "effect"})
    report = broken.validate()
    assert report["valid"] is False
    assert [d["code"] for d in report["diagnostics"]] == ["required_input_missing"]


def test_task_previews_follow_the_quality_tier(canvas):
    (draft,) = canvas.task_previews()
    assert draft["function"] == "image.generate"
    assert draft["quality"] == "draft"
    assert draft["params"]["steps"] == 12
    high = canvas.task_preview("frame_1", "high")
    assert high["params"]["steps"] == 40
    assert high["inputs"] == {"shot": [{"node": "shot_1", "port": "shot"}]}
    with pytest.raises(reelgraph.Refused) as caught:
        canvas.task_preview("shot_1")
    assert caught.value.code == "no_task"
    with pytest.raises(reelgraph.InvalidInput) as caught:
        canvas.task_preview("frame_1", "cinema")
    assert caught.value.code == "invalid_field"


def test_documents_round_trip_through_dicts_and_text(canvas):
    again = reelgraph.Canvas.from_dict(canvas.to_dict())
    assert again.to_json() == canvas.to_json()
    pretty = canvas.to_json(pretty=True)
    assert "\n" in pretty
    assert json.loads(pretty) == json.loads(canvas.to_json())
    assert reelgraph.Canvas.from_json(pretty).to_dict() == canvas.to_dict()


def test_topological_order_puts_every_source_first(canvas):
    assert canvas.topological_order() == ["shot_1", "frame_1"]


def test_node_and_edge_lookups(canvas):
    assert canvas.node("frame_1")["type"] == "image_gen"
    assert canvas.edge("e1")["source"] == {"node": "shot_1", "port": "shot"}
    assert canvas.node("nope") is None and canvas.edge("nope") is None


def test_the_canvas_shows_itself_as_svg_in_notebooks(canvas):
    svg = canvas._repr_svg_()
    assert svg.startswith("<svg") and "Teaser" in svg
    assert repr(canvas) == '<Canvas "teaser" "Teaser": 2 nodes, 1 edges, revision 1>'


def test_builtin_catalogue_lists_types_and_their_specs():
    catalog = reelgraph.Catalog.builtin()
    assert {"shot", "image_gen", "character"} <= set(catalog.types())
    assert "shot" in catalog and "nope" not in catalog
    spec = catalog.spec("image_gen")
    assert spec["type"] == "image_gen"
    assert spec["task"]["function"] == "image.generate"
    with pytest.raises(reelgraph.InvalidInput) as caught:
        catalog.spec("imgae_gen")
    assert caught.value.code == "unknown_node_type"
    assert "image_gen" in caught.value.hint


LUT = {
    "type": "studio.lut",
    "category": "post",
    "title": "LUT",
    "inputs": [{"name": "image", "type": "image", "required": True}],
    "outputs": [{"name": "image", "type": "image"}],
    "properties": [{"name": "strength", "type": "float", "min": 0, "max": 1, "default": 1.0}],
}


def test_types_register_from_a_dict_text_list_or_file(tmp_path):
    catalog = reelgraph.Catalog.builtin()
    assert catalog.register(LUT) == ["studio.lut"]
    assert catalog.register(json.dumps({**LUT, "type": "studio.grain"})) == ["studio.grain"]
    assert catalog.register([{**LUT, "type": "studio.a"}, {**LUT, "type": "studio.b"}]) == [
        "studio.a", "studio.b"]
    path = tmp_path / "types.json"
    path.write_text(json.dumps([{**LUT, "type": "studio.c"}]))
    assert catalog.register_file(path) == ["studio.c"]
    other = tmp_path / "more.json"
    other.write_text(json.dumps({**LUT, "type": "studio.d"}))
    assert catalog.register_file(str(other)) == ["studio.d"]

    canvas = reelgraph.Canvas("c", "C", catalog)
    canvas.apply({"op": "add_node", "id": "lut", "type": "studio.lut"})
    assert canvas.node("lut")["properties"] == {"strength": 1.0}
    # The canvas shares the catalogue: a type registered later is seen.
    catalog.register({**LUT, "type": "studio.late"})
    assert "studio.late" in canvas.catalog


def test_a_registration_is_all_or_none():
    catalog = reelgraph.Catalog.builtin()
    before = catalog.types()
    with pytest.raises(reelgraph.InvalidInput) as caught:
        catalog.register([{**LUT, "type": "studio.ok"}, {**LUT, "type": "studio.bad", "inputs": 3}])
    assert caught.value.code in ("invalid_spec", "invalid_json")
    assert catalog.types() == before
    with pytest.raises(reelgraph.Conflict) as caught:
        catalog.register({**LUT, "type": "shot"})
    assert caught.value.code == "duplicate_node_type"


def test_a_missing_catalogue_file_is_an_io_error(tmp_path):
    with pytest.raises(reelgraph.Unavailable) as caught:
        reelgraph.Catalog.builtin().register_file(tmp_path / "missing.json")
    assert caught.value.code == "io"
    assert caught.value.details["path"].endswith("missing.json")


def test_an_empty_catalogue_knows_no_types():
    empty = reelgraph.Catalog()
    assert empty.types() == [] and len(empty) == 0
    canvas = reelgraph.Canvas("c", "C", catalog=empty)
    with pytest.raises(reelgraph.InvalidInput) as caught:
        canvas.apply({"op": "add_node", "id": "s", "type": "shot"})
    assert caught.value.code == "unknown_node_type"


def test_the_demo_canvas_loads_and_validates():
    text = (ROOT / "examples" / "short-film" / "canvas.json").read_text()
    canvas = reelgraph.Canvas.from_json(text)
    assert canvas.validate()["valid"]
    assert len(canvas.task_previews("standard")) > 0


def test_threads_apply_to_one_canvas_without_losing_an_apply():
    # The core works with the GIL released; the canvas lock keeps applies whole.
    canvas = reelgraph.Canvas("c", "C")

    def add(prefix):
        for i in range(50):
            canvas.apply({"op": "add_node", "id": f"{prefix}{i}", "type": "shot"})

    threads = [threading.Thread(target=add, args=(p,)) for p in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert canvas.revision == 200
    assert len(canvas.to_dict()["nodes"]) == 200
