"""The issue's bad inputs that reach the canvas: wrong argument types, values
that break a property spec, NaN and infinity, integers beyond 64 bits."""

import math

import pytest

import reelgraph


def add_frame(properties=None, ui=None):
    op = {"op": "add_node", "id": "frame", "type": "image_gen"}
    if properties is not None:
        op["properties"] = properties
    if ui is not None:
        op["ui"] = ui
    return op


# --- wrong argument types: a TypeError that names the argument ---------------

@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda c: reelgraph.Canvas(5, "Name"), "id"),
        (lambda c: reelgraph.Canvas("id", None), "name"),
        (lambda c: reelgraph.Canvas("id", "Name", catalog="builtin"), "catalog"),
        (lambda c: reelgraph.Canvas.from_json({"format": "reelgraph.canvas"}), "text"),
        (lambda c: reelgraph.Canvas.from_dict("{}"), "doc"),
        (lambda c: c.apply(42), "ops"),
        (lambda c: c.apply(None), "ops"),
        (lambda c: c.apply([{"op": "add_node", "id": "x", "type": "shot", "ui": {1: "a"}}]),
         "ops[0].ui"),
        (lambda c: c.apply([add_frame({"seed": b"\x00"})]), "ops[0].properties.seed"),
        (lambda c: c.apply([add_frame({"seed": object()})]), "ops[0].properties.seed"),
        (lambda c: c.can_connect("shot_1", ("frame_1", "shot")), "source"),
        (lambda c: c.can_connect(("shot_1", "shot"), ("frame_1", 3)), "target"),
        (lambda c: c.task_preview(1), "node"),
        (lambda c: c.task_preview("frame_1", 2), "quality"),
        (lambda c: c.node(1), "id"),
        (lambda c: c.to_svg(["legend"]), "options"),
        (lambda c: reelgraph.Catalog.builtin().spec(None), "type_name"),
        (lambda c: reelgraph.Catalog.builtin().register(3), "spec"),
        (lambda c: reelgraph.Catalog.builtin().register_file(3), "path"),
        (lambda c: reelgraph.import_any(3), "data"),
        (lambda c: reelgraph.import_any({"nodes": []}, format=1), "format"),
        (lambda c: reelgraph.import_comfyui({}, object_info=2.5), "object_info"),
    ],
)
def test_a_wrong_type_is_a_type_error_naming_the_argument(canvas, call, argument):
    with pytest.raises(TypeError) as caught:
        call(canvas)
    assert f"`{argument}`" in str(caught.value)
    assert canvas.revision == 1


# --- values that do not fit a property spec ------------------------------------

@pytest.mark.parametrize(
    ("properties", "property_name"),
    [
        ({"seed": -1}, "seed"),                # below min
        ({"seed": 2**32}, "seed"),             # above max
        ({"seed": "42"}, "seed"),              # text for an integer
        ({"seed": 4.5}, "seed"),               # a fraction for an integer
        ({"sampler": "warp"}, "sampler"),      # not one of the enum's values
        ({"cfg_scale": True}, "cfg_scale"),    # a bool is not a number
    ],
)
def test_a_value_that_breaks_its_spec_is_refused(properties, property_name):
    canvas = reelgraph.Canvas("c", "C")
    with pytest.raises(reelgraph.InvalidInput) as caught:
        canvas.apply([add_frame(properties)])
    err = caught.value
    assert err.code == "property_invalid"
    assert err.details["property"] == property_name
    assert err.hint
    assert canvas.revision == 0


def test_an_unknown_property_is_refused():
    with pytest.raises(reelgraph.InvalidInput) as caught:
        reelgraph.Canvas("c", "C").apply([add_frame({"sead": 1})])
    assert caught.value.code == "unknown_property"


# --- NaN and infinity: refused, never turned into null -------------------------

@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    ("build", "where"),
    [
        (lambda x: [add_frame({"cfg_scale": x})], "ops[0].properties.cfg_scale"),
        (lambda x: [{"op": "move_node", "id": "frame_1", "position": {"x": x, "y": 0}}],
         "ops[0].position.x"),
        (lambda x: [add_frame(ui={"zoom": [1, x]})], "ops[0].ui.zoom[1]"),
    ],
    ids=["property", "position", "ui"],
)
def test_nan_and_infinity_are_refused(canvas, number, build, where):
    before = canvas.to_json()
    with pytest.raises(reelgraph.InvalidInput) as caught:
        canvas.apply(build(number))
    assert caught.value.code == "invalid_json"
    assert f"`{where}`" in caught.value.message
    assert canvas.to_json() == before


def test_nan_is_refused_in_documents_and_options(canvas):
    doc = canvas.to_dict()
    doc["nodes"][0]["position"]["x"] = math.nan
    with pytest.raises(reelgraph.InvalidInput) as caught:
        reelgraph.Canvas.from_dict(doc)
    assert caught.value.code == "invalid_json"
    assert "`doc.nodes[0].position.x`" in caught.value.message
    with pytest.raises(reelgraph.InvalidInput):
        canvas.to_svg({"margin": math.inf})
    with pytest.raises(reelgraph.InvalidInput):
        reelgraph.Catalog.builtin().register({"type": "x", "category": "post", "title": "X",
                                              "properties": [{"name": "p", "type": "float",
                                                              "default": math.nan}]})


def test_nan_in_json_text_is_refused_by_the_core(canvas):
    with pytest.raises(reelgraph.InvalidInput) as caught:
        canvas.apply('[{"op": "move_node", "id": "frame_1", "position": {"x": NaN, "y": 0}}]')
    assert caught.value.code == "invalid_json"


# --- integers beyond 64 bits ---------------------------------------------------

@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**40], ids=["2^64", "-2^63-1", "10^40"])
def test_integers_beyond_64_bits_are_refused(canvas, number):
    with pytest.raises(reelgraph.InvalidInput) as caught:
        canvas.apply([add_frame(ui={"big": number})])
    assert caught.value.code == "invalid_json"
    assert "beyond 64 bits" in caught.value.message
    assert "`ops[0].ui.big`" in caught.value.message
    assert canvas.revision == 1


@pytest.mark.parametrize("number", [2**64 - 1, -(2**63), 2**53 + 1], ids=["u64 max", "i64 min", "2^53+1"])
def test_64_bit_integers_come_back_exactly(number):
    canvas = reelgraph.Canvas("c", "C")
    canvas.apply([add_frame(ui={"big": number})])
    assert canvas.node("frame")["ui"]["big"] == number
    assert reelgraph.Canvas.from_json(canvas.to_json()).node("frame")["ui"]["big"] == number


def test_a_value_that_contains_itself_is_refused():
    loop = []
    loop.append(loop)
    with pytest.raises(reelgraph.InvalidInput) as caught:
        reelgraph.Canvas("c", "C").apply([add_frame(ui={"loop": loop})])
    assert caught.value.code == "invalid_json"
    assert "levels deep" in caught.value.message


def test_bad_ids_and_names_are_the_cores_errors():
    with pytest.raises(reelgraph.InvalidInput) as caught:
        reelgraph.Canvas(" film", "Film")
    assert caught.value.code == "invalid_id"
    with pytest.raises(reelgraph.InvalidInput) as caught:
        reelgraph.Canvas("film", "x" * 2000)
    assert caught.value.code == "invalid_field"


def test_an_unknown_op_or_field_is_invalid_json(canvas):
    with pytest.raises(reelgraph.InvalidInput) as caught:
        canvas.apply([{"op": "paint", "id": "frame_1"}])
    assert caught.value.code == "invalid_json"
    with pytest.raises(reelgraph.InvalidInput) as caught:
        canvas.apply([{"op": "set_label", "id": "frame_1", "label": "x", "lable": "y"}])
    assert caught.value.code == "invalid_json"
    assert canvas.revision == 1


@pytest.mark.parametrize(
    ("ops", "where", "what"),
    [
        ([add_frame(), {"op": "set_label", "id": "frame", "label": "x", "lable": "y"}],
         "`ops[1]`", "unknown field `lable`"),
        ([{"op": "move_node", "id": "frame_1", "position": {"x": "left", "y": 0}}],
         "`ops[0].position.x`", "invalid type: string \"left\""),
        ([add_frame(), {"op": "connect", "source": {"node": "frame"},
                        "target": {"node": "x", "port": "y"}}],
         "`ops[1].source`", "missing field `port`"),
        ([{"op": "paint", "id": "frame_1"}], "`ops[0].op`", "unknown variant `paint`"),
    ],
    ids=["unknown field", "wrong type", "missing field", "unknown op"],
)
def test_an_op_dict_error_names_the_op_and_field(canvas, ops, where, what):
    with pytest.raises(reelgraph.InvalidInput) as caught:
        canvas.apply(ops)
    message = caught.value.message
    assert caught.value.code == "invalid_json"
    assert where in message and what in message, message
    assert "line 1" not in message and "column" not in message, message
    assert canvas.revision == 1
