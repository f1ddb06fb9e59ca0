"""The installed wheel imports and a canvas round-trips through the core."""

import reelgraph


def test_a_canvas_is_built_applied_and_written():
    canvas = reelgraph.Canvas("teaser", "Teaser")
    applied = canvas.apply(
        [
            {"op": "add_node", "id": "shot_1", "type": "shot", "properties": {"prompt": "rain"}},
            {"op": "add_node", "id": "frame_1", "type": "image_gen"},
            {"op": "connect", "source": {"node": "shot_1", "port": "shot"},
             "target": {"node": "frame_1", "port": "shot"}},
        ]
    )
    assert applied["revision"] == 1 == canvas.revision
    assert [op["op"] for op in applied["inverse"]] == ["disconnect", "remove_node", "remove_node"]

    again = reelgraph.Canvas.from_json(canvas.to_json())
    assert again.to_dict() == canvas.to_dict()
    assert [n["id"] for n in again.to_dict()["nodes"]] == ["shot_1", "frame_1"]


def test_a_refused_op_raises_the_class_of_its_code():
    canvas = reelgraph.Canvas("c", "C")
    canvas.apply([{"op": "add_node", "id": "a", "type": "shot"}])
    try:
        canvas.apply([{"op": "connect", "source": {"node": "a", "port": "shot"},
                       "target": {"node": "a", "port": "shot"}}])
    except reelgraph.ConnectionRejected as err:
        assert err.code in ("self_loop", "type_mismatch")
        assert err.hint
        assert isinstance(err, reelgraph.Refused)
    else:
        raise AssertionError("a self-connection was accepted")
    assert canvas.revision == 1
