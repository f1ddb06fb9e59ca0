"""Formats: React Flow both ways, ComfyUI in, API prompts out, pictures, any."""

import json

import pytest

import reelgraph
from conftest import ROOT

FIXTURES = ROOT / "core" / "tests" / "fixtures" / "comfyui"

WORKFLOW = {
    "last_node_id": 2, "last_link_id": 1, "version": 0.4,
    "nodes": [
        {"id": 1, "type": "LoadImage", "pos": [0, 0], "size": [300, 300], "mode": 0,
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]},
                     {"name": "MASK", "type": "MASK", "links": []}],
         "widgets_values": ["a.png", "image"]},
        {"id": 2, "type": "PreviewImage", "pos": [400, 0], "size": [300, 300], "mode": 0,
         "inputs": [{"name": "images", "type": "IMAGE", "link": 1}]},
    ],
    "links": [[1, 1, 0, 2, 0, "IMAGE"]],
}

API_PROMPT = {
    "3": {"class_type": "KSampler",
          "inputs": {"seed": 5, "steps": 20, "model": ["4", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd.safetensors"}},
}


def test_react_flow_round_trips(canvas):
    flow = canvas.to_react_flow()
    assert {n["id"] for n in flow["nodes"]} == {"shot_1", "frame_1"}
    assert flow["edges"][0]["sourceHandle"] == "shot"
    again = reelgraph.Canvas.from_react_flow(flow)
    assert again.to_dict()["nodes"] == canvas.to_dict()["nodes"]
    assert again.to_dict()["edges"] == canvas.to_dict()["edges"]
    # Text works as well as a dict.
    assert reelgraph.Canvas.from_react_flow(json.dumps(flow)).to_json() == again.to_json()


def test_a_react_flow_import_reports_what_it_could_not_keep():
    flow = {"nodes": [{"id": "a", "type": "shot", "position": {"x": 0, "y": 0}, "data": {}}],
            "edges": [{"id": "x", "source": "a", "sourceHandle": "shot", "target": "ghost",
                       "targetHandle": "shot"}]}
    imported = reelgraph.import_react_flow(flow)
    assert [d["code"] for d in imported.diagnostics] == ["dangling_edge"]
    assert imported.canvas.node("a")["type"] == "shot"
    assert imported.to_dict()["canvas"]["nodes"][0]["id"] == "a"


def test_a_comfyui_workflow_imports_and_registers_its_classes():
    catalog = reelgraph.Catalog.builtin()
    imported = reelgraph.import_comfyui(WORKFLOW, catalog=catalog)
    assert imported.registered_types == ["LoadImage", "PreviewImage"]
    assert "LoadImage" in catalog
    canvas = imported.canvas
    assert canvas.node("1")["properties"]["image"] == "a.png"
    assert len(canvas.to_dict()["edges"]) == 1
    # ...and goes back out as an API prompt.
    prompt = canvas.to_comfyui_prompt()
    assert prompt["prompt"]["2"]["class_type"] == "PreviewImage"
    assert prompt["prompt"]["2"]["inputs"]["images"] == ["1", 0]


def test_object_info_names_widgets_the_workflow_leaves_unnamed():
    workflow = {"nodes": [{"id": 1, "type": "Blur", "widgets_values": [3]}], "links": []}
    info = {"Blur": {"input": {"required": {"image": ["IMAGE"], "radius": ["INT", {}]}}}}
    imported = reelgraph.import_comfyui(workflow, object_info=info)
    assert imported.canvas.node("1")["properties"]["radius"] == 3
    # The same as text.
    again = reelgraph.import_comfyui(json.dumps(workflow), object_info=json.dumps(info))
    assert again.canvas.node("1")["properties"] == imported.canvas.node("1")["properties"]


def test_an_api_prompt_imports():
    imported = reelgraph.import_comfyui(API_PROMPT)
    canvas = imported.canvas
    assert canvas.node("3")["properties"]["seed"] == 5
    assert canvas.to_dict()["edges"][0]["source"]["node"] == "4"
    assert "no_layout" in [d["code"] for d in imported.diagnostics]


def test_a_real_workflow_file_imports():
    text = (FIXTURES / "widget_names.json").read_text()
    imported = reelgraph.import_comfyui(text)
    assert imported.registered_types
    assert imported.canvas.to_dict()["nodes"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"nodes": [], "edges": []}, "react_flow"),
        (WORKFLOW, "comfyui_workflow"),
        (API_PROMPT, "comfyui_api"),
    ],
)
def test_import_any_tells_the_format(data, expected):
    assert reelgraph.detect_format(data) == expected
    assert reelgraph.import_any(data).format == expected


def test_import_any_reads_a_native_document(canvas):
    imported = reelgraph.import_any(canvas.to_json())
    assert imported.format == "native"
    assert imported.canvas.to_json() == canvas.to_json()
    # A named format is read as that format.
    with pytest.raises(reelgraph.InvalidInput) as caught:
        reelgraph.import_any(canvas.to_json(), format="react_flow")
    assert caught.value.code in ("wrong_format", "invalid_json")


def test_unknown_formats_are_refused_with_their_code():
    with pytest.raises(reelgraph.InvalidInput) as caught:
        reelgraph.import_any({"hello": 1})
    assert caught.value.code == "unknown_format"
    with pytest.raises(reelgraph.InvalidInput) as caught:
        reelgraph.import_any("{not json")
    assert caught.value.code == "invalid_json"
    with pytest.raises(reelgraph.InvalidInput) as caught:
        reelgraph.import_any({"nodes": []}, format="svg")
    assert caught.value.code == "invalid_json"


def test_dot_mermaid_and_svg_pictures(canvas):
    dot = canvas.to_dot()
    assert dot.startswith('digraph "teaser"') and "shot_1" in dot
    mermaid = canvas.to_mermaid()
    assert "flowchart" in mermaid and "Teaser" in mermaid
    full = canvas.to_svg()
    bare = canvas.to_svg({"legend": False, "title": False, "properties": 0})
    assert full.startswith("<svg") and bare.startswith("<svg")
    assert len(bare) < len(full)
    assert canvas.to_svg(None) == full


def test_svg_options_are_the_cores_and_typos_are_refused(canvas):
    with pytest.raises(reelgraph.InvalidInput) as caught:
        canvas.to_svg({"legnd": False})
    assert caught.value.code == "invalid_json"
    assert caught.value.details["field"] == "legnd"
