"""Op dicts read field by field: the same ops as JSON text, and for a bad op
the error the generic reader gives (the plain ops are read by a reader of
their own, which hands anything else to the generic one)."""

import enum
import json
import math
import re

import pytest

import reelgraph


class Text(str):
    pass


class Twin(str):
    """Equal text but never an equal key: a dict can hold two of them."""

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


class One(enum.IntEnum):
    ONE = 1


BASE = [
    {"op": "add_node", "id": "s", "type": "shot"},
    {"op": "add_node", "id": "f", "type": "image_gen"},
]
SOURCE = {"node": "s", "port": "shot"}
TARGET = {"node": "f", "port": "shot"}


def add(**fields):
    return {"op": "add_node", "id": "n", "type": "image_gen", **fields}


def nested(levels):
    value = 0
    for _ in range(levels):
        value = [value]
    return value


def outcome(canvas, applied):
    text = json.dumps({"applied": applied.to_dict(), "canvas": canvas.to_dict()}, sort_keys=True)
    return re.sub(r'"(ts|created_at|updated_at)": "[^"]*"', '"T"', text)


GOOD = {
    "add_node": [add()],
    "add_node, every field": [add(type_version=2, label="L", position={"x": 1, "y": 2.5},
                                  properties={"seed": 7, "negative_prompt": "p"},
                                  ui={"a": [2**64 - 1, -(2**63), 2.0, None, True, "s", {"b": (1,)}]})],
    "tag last, fields in any order": [{"id": "n", "position": {"y": 1, "x": 2}, "type": "image_gen",
                                       "op": "add_node"}],
    "None for optional fields": [add(type_version=None, label=None, ui=None)],
    "position as a tuple": [add(position=(1, 2))],
    "str and int subclasses": [{"op": Text("add_node"), Text("id"): Text("n"), "type": "image_gen",
                                "type_version": One.ONE, "label": Text("L"),
                                "position": {Text("x"): One.ONE, "y": 0},
                                "properties": {Text("negative_prompt"): Text("p")}, "ui": {"k": One.ONE}}],
    "connect": BASE + [{"op": "connect", "source": SOURCE, "target": TARGET}],
    "connect with an id": BASE + [{"op": "connect", "id": "e1", "source": SOURCE, "target": TARGET}],
    "connect with a None id": BASE + [{"op": "connect", "id": None, "source": SOURCE, "target": TARGET}],
    "connect, a port as a tuple": BASE + [{"op": "connect", "source": ("s", "shot"), "target": TARGET}],
    "set_properties": BASE + [{"op": "set_properties", "id": "f", "properties": {"seed": 5, "steps_override": None},
                               "unset": ["cfg_scale"]}],
    "set_properties, unset as a tuple": BASE + [{"op": "set_properties", "id": "f", "unset": ("seed",)}],
    "set_properties, nothing": BASE + [{"op": "set_properties", "id": "f"}],
    "move_node": BASE + [{"op": "move_node", "id": "f", "position": {"x": -3, "y": 1e300}}],
    "set_label": BASE + [{"op": "set_label", "id": "f", "label": "Frame"}],
    "set_label, None": BASE + [{"op": "set_label", "id": "f", "label": None}],
    "set_label, absent": BASE + [{"op": "set_label", "id": "f"}],
    "remove_node": BASE + [{"op": "remove_node", "id": "f"}],
    "disconnect": BASE + [{"op": "connect", "id": "e", "source": SOURCE, "target": TARGET},
                          {"op": "disconnect", "id": "e"}],
    "an op read only by the generic reader": BASE + [{"op": "set_ui", "id": "f", "ui": {"a": 1}}],
}


@pytest.mark.parametrize("ops", GOOD.values(), ids=GOOD.keys())
def test_op_dicts_apply_as_their_json_text_does(ops):
    from_text = reelgraph.Canvas("c", "C")
    expected = outcome(from_text, from_text.apply(json.dumps(ops)))
    forms = [ops, tuple(ops)] + ([ops[0]] if len(ops) == 1 else [])
    for form in forms:
        canvas = reelgraph.Canvas("c", "C")
        assert outcome(canvas, canvas.apply(form)) == expected


INVALID_JSON = reelgraph.InvalidInput

# (ops, error class, message); the place is that of a list of ops, and of
# one op dict given alone (`ops.` for `ops[0].`) when there is one op.
BAD = {
    "unknown op": ([{"op": "paint", "id": "f"}], INVALID_JSON, "`ops[0].op`: unknown variant `paint`"),
    "op not a str": ([{"op": 7, "id": "f"}], INVALID_JSON, "`ops[0].op`: invalid type: integer `7`"),
    "op missing": ([{"id": "f"}], INVALID_JSON, "`ops[0]`: missing field `op`"),
    "op twice": ([{Twin("op"): "remove_node", Twin("op"): "remove_node", "id": "f"}], INVALID_JSON,
                 "`ops[0]`: duplicate field `op`"),
    "not a dict": ([add(), 5], INVALID_JSON, "`ops[1]`: invalid type: integer `5`, expected internally tagged enum Op"),
    "unknown field": ([add(colour=1)], INVALID_JSON, "`ops[0]`: unknown field `colour`"),
    "another op's field": ([add(unset=[])], INVALID_JSON, "`ops[0]`: unknown field `unset`"),
    "field twice": ([{"op": "add_node", Twin("id"): "n", Twin("id"): "m", "type": "shot"}], INVALID_JSON,
                    "`ops[0]`: duplicate field `id`"),
    "key not a str": ([add() | {1: 2}], TypeError, "`ops[0]` has a key of type int"),
    "missing field": ([{"op": "add_node", "id": "n"}], INVALID_JSON, "`ops[0]`: missing field `type`"),
    "id not a str": ([add(id=5)], INVALID_JSON, "`ops[0].id`: invalid type: integer `5`, expected a string"),
    "id None": ([add(id=None)], INVALID_JSON, "`ops[0].id`: invalid type: unit value"),
    "id bytes": ([add(id=b"n")], TypeError, "`ops[0].id` is a bytes, which is not JSON"),
    "id a lone surrogate": ([add(id="\ud800")], UnicodeEncodeError, "surrogates not allowed"),
    "type_version a bool": ([add(type_version=True)], INVALID_JSON,
                            "`ops[0].type_version`: invalid type: boolean `true`, expected u32"),
    "type_version negative": ([add(type_version=-1)], INVALID_JSON,
                              "`ops[0].type_version`: invalid value: integer `-1`, expected u32"),
    "type_version past u32": ([add(type_version=2**32)], INVALID_JSON,
                              "`ops[0].type_version`: invalid value: integer `4294967296`"),
    "type_version past 64 bits": ([add(type_version=2**70)], INVALID_JSON,
                                  "`ops[0].type_version` is an integer beyond 64 bits"),
    "type_version a float": ([add(type_version=1.0)], INVALID_JSON,
                             "`ops[0].type_version`: invalid type: floating point `1.0`"),
    "label not a str": ([add(label=5)], INVALID_JSON, "`ops[0].label`: invalid type: integer `5`"),
    "position None": ([add(position=None)], INVALID_JSON,
                      "`ops[0].position`: invalid type: unit value, expected struct Position"),
    "position x a bool": ([add(position={"x": True, "y": 0})], INVALID_JSON,
                          "`ops[0].position.x`: invalid type: boolean `true`, expected f64"),
    "position x a str": ([add(position={"x": "1", "y": 0})], INVALID_JSON,
                         "`ops[0].position.x`: invalid type: string \"1\", expected f64"),
    "position x NaN": ([add(position={"x": math.nan, "y": 0})], INVALID_JSON, "`ops[0].position.x` is NaN"),
    "position y infinite": ([add(position={"x": 0, "y": -math.inf})], INVALID_JSON,
                            "`ops[0].position.y` is infinite"),
    "position x past 64 bits": ([add(position={"x": 2**64, "y": 0})], INVALID_JSON,
                                "`ops[0].position.x` is an integer beyond 64 bits"),
    "position y missing": ([add(position={"x": 1})], INVALID_JSON, "`ops[0].position`: missing field `y`"),
    "position z": ([add(position={"x": 1, "y": 2, "z": 3})], INVALID_JSON,
                   "`ops[0].position`: unknown field `z`"),
    "position x twice": ([add(position={Twin("x"): 1, Twin("x"): 2, "y": 0})], INVALID_JSON,
                         "`ops[0].position`: duplicate field `x`"),
    "position key not a str": ([add(position={"x": 1, "y": 2, 3: 3})], TypeError,
                               "`ops[0].position` has a key of type int"),
    "properties None": ([add(properties=None)], INVALID_JSON, "`ops[0].properties`: expected an object"),
    "properties a list": ([add(properties=[1])], INVALID_JSON, "`ops[0].properties`: expected an object"),
    "property NaN": ([add(properties={"cfg_scale": math.nan})], INVALID_JSON,
                     "`ops[0].properties.cfg_scale` is NaN"),
    "property past 64 bits": ([add(properties={"seed": 2**64})], INVALID_JSON,
                              "`ops[0].properties.seed` is an integer beyond 64 bits"),
    "property key not a str": ([add(properties={1: 2})], TypeError,
                               "`ops[0].properties` has a key of type int"),
    "property twice": ([add(properties={Twin("seed"): 1, Twin("seed"): 2})], INVALID_JSON,
                       "`ops[0].properties`: duplicate key `seed`"),
    "property a set": ([add(properties={"seed": {1}})], TypeError,
                       "`ops[0].properties.seed` is a set, which is not JSON"),
    "ui key not a str, deep": ([add(ui={"a": [{1: 2}]})], TypeError, "`ops[0].ui.a[0]` has a key of type int"),
    "ui key twice, deep": ([add(ui={"a": {Twin("k"): 1, Twin("k"): 2}})], INVALID_JSON,
                           "`ops[0].ui.a`: duplicate key `k`"),
    "connect id not a str": (BASE + [{"op": "connect", "id": 1, "source": SOURCE, "target": TARGET}],
                             INVALID_JSON, "`ops[2].id`: invalid type: integer `1`"),
    "connect port missing": (BASE + [{"op": "connect", "source": {"node": "s"}, "target": TARGET}],
                             INVALID_JSON, "`ops[2].source`: missing field `port`"),
    "connect port extra": (BASE + [{"op": "connect", "source": SOURCE | {"x": 1}, "target": TARGET}],
                           INVALID_JSON, "`ops[2].source`: unknown field `x`"),
    "connect port not a str": (BASE + [{"op": "connect", "source": {"node": "s", "port": 1}, "target": TARGET}],
                               INVALID_JSON, "`ops[2].source.port`: invalid type: integer `1`"),
    "connect port twice": (BASE + [{"op": "connect", "source": {"node": "s", Twin("port"): "shot",
                                                                Twin("port"): "x"}, "target": TARGET}],
                           INVALID_JSON, "`ops[2].source`: duplicate field `port`"),
    "connect target missing": (BASE + [{"op": "connect", "source": SOURCE}], INVALID_JSON,
                               "`ops[2]`: missing field `target`"),
    "connect source None": (BASE + [{"op": "connect", "source": None, "target": TARGET}], INVALID_JSON,
                            "`ops[2].source`: invalid type: unit value, expected struct PortRef"),
    "unset a str": (BASE + [{"op": "set_properties", "id": "f", "unset": "seed"}], INVALID_JSON,
                    "`ops[2].unset`: invalid type: string \"seed\", expected a sequence"),
    "unset None": (BASE + [{"op": "set_properties", "id": "f", "unset": None}], INVALID_JSON,
                   "`ops[2].unset`: invalid type: unit value, expected a sequence"),
    "unset an int": (BASE + [{"op": "set_properties", "id": "f", "unset": [1]}], INVALID_JSON,
                     "`ops[2].unset[0]`: invalid type: integer `1`, expected a string"),
    "move_node without position": (BASE + [{"op": "move_node", "id": "f"}], INVALID_JSON,
                                   "`ops[2]`: missing field `position`"),
    "set_label typo": (BASE + [{"op": "set_label", "id": "f", "lable": "y"}], INVALID_JSON,
                       "`ops[2]`: unknown field `lable`, expected `id` or `label`"),
    "remove_node id a list": (BASE + [{"op": "remove_node", "id": ["f"]}], INVALID_JSON,
                              "`ops[2].id`: invalid type: sequence, expected a string"),
    "disconnect without id": (BASE + [{"op": "disconnect"}], INVALID_JSON, "`ops[2]`: missing field `id`"),
}


@pytest.mark.parametrize(("ops", "error", "message"), BAD.values(), ids=BAD.keys())
def test_a_bad_op_dict_gets_the_generic_readers_error(ops, error, message):
    forms = [(ops, message), (tuple(ops), message)]
    if len(ops) == 1:
        forms.append((ops[0], message.replace("`ops[0]", "`ops")))
    for form, expected in forms:
        canvas = reelgraph.Canvas("c", "C")
        with pytest.raises(error) as caught:
            canvas.apply(form)
        assert expected in str(caught.value), caught.value
        if error is INVALID_JSON:
            assert caught.value.code == "invalid_json"
        assert canvas.revision == 0


@pytest.mark.parametrize(
    ("value", "deepest"),
    [(nested, 126), (lambda n: json.loads('{"a":' * n + "1" + "}" * n), 126)],
    ids=["lists", "dicts"],
)
def test_nesting_is_limited_as_in_the_generic_reader(value, deepest):
    """A value in an op of a list has one level less than in an op alone."""
    canvas = reelgraph.Canvas("c", "C")
    # Read, then refused by the core's own (lower) limit for `ui`.
    for ops in ([add(ui=value(deepest))], add(ui=value(deepest + 1))):
        with pytest.raises(reelgraph.InvalidInput) as caught:
            canvas.apply(ops)
        assert caught.value.code == "invalid_field", caught.value
    for ops in ([add(ui=value(deepest + 1))], add(ui=value(deepest + 2))):
        with pytest.raises(reelgraph.InvalidInput) as caught:
            canvas.apply(ops)
        assert caught.value.code == "invalid_json" and "levels deep" in caught.value.message
