"""The plain-Python alternative to reelgraph that the benchmarks compare with.

What a competent user would write without reelgraph: pydantic models made
from the same node-type specs (the built-in catalogue, `core/catalog/*.json`),
a networkx graph, and `json`. It does the checks reelgraph does when a canvas
changes and when it is validated:

- at `add_node`: a unique id, a known type, property values that fit their
  specs (kind, range, enum, pattern, lengths, list items, object fields;
  unknown properties refused);
- at `connect`: both nodes exist, no self loop, both ports exist, the types
  fit (equal, an `any` input, a union that lists the type, or one of the
  catalogue's conversions), no duplicate edge, one edge per single input, and
  no cycle (networkx's `has_path` from the target back to the source);
- at `validate`: required properties set, properties that do not apply with
  the node's other values (a warning), required inputs connected;
- a topological order (networkx).

It leaves out what reelgraph also does and a user would likely skip: inverse
ops for undo, change events, revisions, story-structure warnings and limits
on sizes and depths. So it does less work than reelgraph, never more.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import networkx as nx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    ValidationError,
    create_model,
)

CATALOG_DIR = Path(__file__).resolve().parents[2] / "core" / "catalog"

# The built-in catalogue's conversions (Catalog::builtin in the core).
CONVERSIONS = {("integer", "float")}


class Rejected(Exception):
    """An op or document the checks refuse, with reelgraph's code for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _value_type(prop: dict[str, Any], name: str) -> Any:
    """The pydantic annotation of one property (or list item, or object field)."""
    kind = prop["type"]
    if kind in ("text", "asset_ref"):
        return Annotated[
            str,
            Strict(),
            Field(
                min_length=prop.get("min_length"),
                max_length=prop.get("max_length"),
                pattern=prop.get("pattern"),
            ),
        ]
    if kind == "integer":
        return Annotated[int, Strict(), Field(ge=prop.get("min"), le=prop.get("max"))]
    if kind == "float":
        return Annotated[
            float,
            Strict(),
            Field(ge=prop.get("min"), le=prop.get("max"), allow_inf_nan=False),
        ]
    if kind == "boolean":
        return StrictBool
    if kind == "enum":
        return Literal[tuple(prop["values"])]
    if kind == "list":
        item = _value_type(prop["items"], name) if "items" in prop else Any
        return Annotated[list[item], Field(max_length=prop.get("max_items"))]
    if kind == "object":
        if "fields" not in prop:
            return dict[str, Any]
        return _model(name, prop["fields"])
    raise ValueError(f"unknown property kind {kind}")


def _model(name: str, props: list[dict[str, Any]], *, all_optional: bool = False) -> type[BaseModel]:
    """A pydantic model of `props`; unknown fields are refused.

    Node properties are all optional here (null unsets one): reelgraph lets a
    node be added before its required properties are set and reports them at
    validation. Object fields keep their `required`.
    """
    fields: dict[str, Any] = {}
    for prop in props:
        annotation = Optional[_value_type(prop, f"{name}_{prop['name']}")]
        required = prop.get("required", False) and not all_optional
        fields[prop["name"]] = (annotation, ... if required else None)
    return create_model(
        "".join(part.title() for part in name.split("_")) or "Model",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )


class NodeType:
    """One node-type spec: its ports, its properties' model and its checks."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = spec["type"]
        self.inputs = {
            i["name"]: (
                tuple(i["type"]) if isinstance(i["type"], list) else (i["type"],),
                i.get("required", False),
                i.get("multiple", False),
            )
            for i in spec.get("inputs", [])
        }
        self.outputs = {o["name"]: o["type"] for o in spec.get("outputs", [])}
        self.properties = {p["name"]: p for p in spec.get("properties", [])}
        self.model = _model(self.name, spec.get("properties", []), all_optional=True)

    def applies(self, name: str, values: dict[str, Any], depth: int = 0) -> bool:
        cond = self.properties[name].get("applies_when")
        if cond is None:
            return True
        parent = cond["property"]
        if depth > 8 or parent not in self.properties:
            return False
        current = values.get(parent, self.properties[parent].get("default"))
        return current in cond["in"] and self.applies(parent, values, depth + 1)


class Catalog:
    def __init__(self, directory: Path = CATALOG_DIR) -> None:
        self.types: dict[str, NodeType] = {}
        for path in sorted(directory.glob("*.json")):
            for spec in json.loads(path.read_text()):
                self.types[spec["type"]] = NodeType(spec)

    @staticmethod
    def accepts(accepted: tuple[str, ...], given: str) -> bool:
        return (
            given in accepted
            or "any" in accepted
            or any((given, t) in CONVERSIONS for t in accepted)
        )


class Canvas:
    """A canvas as a networkx multigraph; edges are keyed by their two ports."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.graph = nx.MultiDiGraph()

    def apply(self, op: dict[str, Any]) -> None:
        kind = op["op"]
        if kind == "add_node":
            self.add_node(op["id"], op["type"], op.get("properties", {}))
        elif kind == "connect":
            self.connect(op["source"], op["target"])
        else:
            raise Rejected("unknown_op", f"the baseline does not do `{kind}`")

    def add_node(self, node_id: str, type_name: str, properties: dict[str, Any]) -> None:
        if node_id in self.graph:
            raise Rejected("duplicate_node", node_id)
        node_type = self.catalog.types.get(type_name)
        if node_type is None:
            raise Rejected("unknown_node_type", type_name)
        try:
            node_type.model.model_validate(properties)
        except ValidationError as e:
            raise Rejected("property_invalid", f"{node_id}: {e}") from None
        self.graph.add_node(node_id, type=node_type, properties=properties)

    def connect(self, source: dict[str, str], target: dict[str, str], *, check_cycle: bool = True) -> None:
        src, tgt = source["node"], target["node"]
        if src not in self.graph:
            raise Rejected("unknown_node", src)
        if tgt not in self.graph:
            raise Rejected("unknown_node", tgt)
        if src == tgt:
            raise Rejected("self_loop", src)
        src_type: NodeType = self.graph.nodes[src]["type"]
        tgt_type: NodeType = self.graph.nodes[tgt]["type"]
        given = src_type.outputs.get(source["port"])
        if given is None:
            raise Rejected("unknown_port", f"{src}.{source['port']}")
        accepted = tgt_type.inputs.get(target["port"])
        if accepted is None:
            raise Rejected("unknown_port", f"{tgt}.{target['port']}")
        types, _, multiple = accepted
        if not self.catalog.accepts(types, given):
            raise Rejected("type_mismatch", f"{given} into {tgt}.{target['port']}")
        for u, _, (out_port, in_port) in self.graph.in_edges(tgt, keys=True):
            if in_port != target["port"]:
                continue
            if u == src and out_port == source["port"]:
                raise Rejected("duplicate_edge", f"{src}.{out_port} -> {tgt}.{in_port}")
            if not multiple:
                raise Rejected("input_occupied", f"{tgt}.{in_port}")
        if check_cycle and nx.has_path(self.graph, tgt, src):
            raise Rejected("cycle", f"{src} -> {tgt}")
        self.graph.add_edge(src, tgt, key=(source["port"], target["port"]))

    def validate(self) -> list[dict[str, Any]]:
        """Diagnostics, as reelgraph's report lists them (errors and warnings)."""
        out: list[dict[str, Any]] = []
        for node_id, data in self.graph.nodes(data=True):
            node_type: NodeType = data["type"]
            values = data["properties"]
            for name, value in values.items():
                prop = node_type.properties[name]
                if value is not None and not node_type.applies(name, values) and value != prop.get("default"):
                    out.append({"severity": "warning", "code": "property_ignored", "node": node_id, "property": name})
            for name, prop in node_type.properties.items():
                if not prop.get("required"):
                    continue
                value = values.get(name)
                missing = value is None or (isinstance(value, str) and not value.strip())
                if missing and node_type.applies(name, values):
                    out.append({"severity": "error", "code": "property_invalid", "node": node_id, "property": name})
            connected = {in_port for _, _, (_, in_port) in self.graph.in_edges(node_id, keys=True)}
            for name, (_, required, _) in node_type.inputs.items():
                if required and name not in connected:
                    out.append({"severity": "error", "code": "required_input_missing", "node": node_id, "port": name})
        return out

    def topological_order(self) -> list[str]:
        return list(nx.topological_sort(self.graph))


def load(text: str, catalog: Catalog) -> Canvas:
    """A canvas from a native document: every node and edge checked, and one
    acyclicity check for the whole graph instead of one per edge."""
    doc = json.loads(text)
    if doc.get("format") != "reelgraph.canvas":
        raise Rejected("unsupported_format", str(doc.get("format")))
    canvas = Canvas(catalog)
    for node in doc["nodes"]:
        canvas.add_node(node["id"], node["type"], node.get("properties", {}))
    for edge in doc["edges"]:
        canvas.connect(edge["source"], edge["target"], check_cycle=False)
    if not nx.is_directed_acyclic_graph(canvas.graph):
        raise Rejected("cycle", "the document's edges form a cycle")
    return canvas
