"""Exception classes made from the core's error table."""

import json
import pickle

import pytest

import reelgraph
from reelgraph import _native
from conftest import ROOT

TABLE = _native.error_table()


def test_the_table_is_the_shared_vectors_table():
    vector = json.loads((ROOT / "core/tests/vectors/errors/error_table.json").read_text())
    rows = [{k: row[k] for k in ("code", "category", "http_status")} for row in TABLE]
    assert rows == vector["expected"]


@pytest.mark.parametrize("row", TABLE, ids=[row["code"] for row in TABLE])
def test_every_code_maps_to_a_class_of_its_category(row):
    cls = reelgraph.class_for_code(row["code"])
    assert issubclass(cls, reelgraph.ReelgraphError)
    assert cls.category == row["category"]
    category_class = getattr(reelgraph, "".join(w.capitalize() for w in row["category"].split("_")))
    assert issubclass(cls, category_class)


def test_one_class_per_category_in_the_order_of_the_docs():
    names = [cls.__name__ for cls in reelgraph._errors.CATEGORY_CLASSES.values()]
    assert names == ["InvalidInput", "NotFound", "Conflict", "Refused", "Unavailable", "Internal"]
    for name in names:
        assert getattr(reelgraph, name).__module__ == "reelgraph"


def test_the_most_caught_codes_have_their_own_classes():
    for code in ("self_loop", "type_mismatch", "cycle", "input_occupied", "duplicate_edge"):
        assert reelgraph.class_for_code(code) is reelgraph.ConnectionRejected
    assert reelgraph.class_for_code("invalid_canvas") is reelgraph.ValidationFailed
    assert issubclass(reelgraph.ConnectionRejected, reelgraph.Refused)
    assert issubclass(reelgraph.TaskFailed, reelgraph.ReelgraphError)
    # Every code a specific class names is in the table, under that class's category.
    by_code = {row["code"]: row for row in TABLE}
    for cls in (reelgraph.ConnectionRejected, reelgraph.ValidationFailed):
        for code in cls.codes:
            assert by_code[code]["category"] == cls.category


def test_a_code_outside_the_table_is_internal():
    assert reelgraph.class_for_code("no_such_code") is reelgraph.Internal


def test_a_core_error_carries_code_message_hint_and_details():
    canvas = reelgraph.Canvas("c", "C")
    canvas.apply({"op": "add_node", "id": "a", "type": "shot"})
    with pytest.raises(reelgraph.ConnectionRejected) as caught:
        canvas.apply({"op": "connect", "source": {"node": "a", "port": "shot"},
                      "target": {"node": "a", "port": "shot"}})
    err = caught.value
    assert err.code == "self_loop"
    assert err.details == {"node": "a", "op": "connect", "op_index": 0}
    assert err.hint and err.hint in str(err)
    assert err.message.startswith("op 0 (connect) was rejected")
    assert err.to_dict() == {"code": err.code, "message": err.message, "hint": err.hint,
                             "details": err.details}


def test_errors_pickle_and_can_be_raised_by_hand():
    err = reelgraph.NotFound("not_found", "no canvas `x`", "list the canvases", {"canvas": "x"})
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is reelgraph.NotFound
    assert again.to_dict() == err.to_dict()
    assert repr(again) == "NotFound(code='not_found', message='no canvas `x`')"
