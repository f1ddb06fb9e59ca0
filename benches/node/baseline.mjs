// What a competent JavaScript user would write instead of reelgraph: a
// graphology graph, zod schemas generated from the same node-type specs
// (core/catalog/*.json), and JSON. It makes the checks reelgraph makes:
// known types, unique ids and property values at add_node (missing ones take
// their defaults); at connect the nodes and ports exist, no self loop, the
// types fit (equal, `any`, a union that lists it, or a declared conversion),
// an input without `multiple` takes one edge, no duplicate edge, no cycle;
// and a whole-canvas check of required properties and inputs, then a
// topological order.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Graph from "graphology";
import { hasCycle, topologicalSort, willCreateCycle } from "graphology-dag";
import { z } from "zod";

const MAX_TEXT_BYTES = 65_536;
const MAX_ASSET_REF_BYTES = 4_096;
const MAX_ITEMS = 1_024;
const CONVERSIONS = new Set(["integer->float"]);

/** The built-in specs from `core/catalog/*.json`. */
export function loadSpecs(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .flatMap((f) => JSON.parse(readFileSync(join(dir, f), "utf8")));
}

// JavaScript regexes have no inline `(?i:...)` group: a user would lift the
// flag to the whole pattern.
function regex(pattern) {
  if (pattern.includes("(?i:")) {
    return new RegExp(pattern.replaceAll("(?i:", "(?:"), "iu");
  }
  return new RegExp(pattern, "u");
}

function valueSchema(p) {
  switch (p.type) {
    case "text":
    case "asset_ref": {
      const max = p.max_length ?? (p.type === "asset_ref" ? MAX_ASSET_REF_BYTES : MAX_TEXT_BYTES);
      let s = z.string().refine((v) => Buffer.byteLength(v) <= max, `at most ${max} bytes`);
      if (p.required) s = s.refine((v) => v.trim() !== "", "required and empty");
      if (p.pattern) {
        const re = regex(p.pattern);
        s = s.refine((v) => v === "" || re.test(v), `must match ${p.pattern}`);
      }
      return s;
    }
    case "integer": {
      let s = z.number().int();
      if (p.min !== undefined) s = s.min(p.min);
      if (p.max !== undefined) s = s.max(p.max);
      return s;
    }
    case "float": {
      let s = z.number();
      if (p.min !== undefined) s = s.min(p.min);
      if (p.max !== undefined) s = s.max(p.max);
      return s;
    }
    case "boolean":
      return z.boolean();
    case "enum":
      return z.enum(p.values);
    case "list":
      return z.array(p.items ? valueSchema(p.items) : z.unknown()).max(p.max_items ?? MAX_ITEMS);
    case "object":
      if (!p.fields) return z.record(z.string(), z.unknown());
      return z
        .object(
          Object.fromEntries(
            p.fields.map((f) => {
              const s = valueSchema(f).nullable();
              return [f.name, f.required ? s : s.optional()];
            }),
          ),
        )
        .strict();
    default:
      throw new Error(`unknown property kind ${p.type}`);
  }
}

/** One node type: its zod schemas and port tables. */
class NodeType {
  constructor(spec) {
    this.spec = spec;
    const shape = {};
    this.required = [];
    for (const p of spec.properties ?? []) {
      const s = valueSchema(p);
      shape[p.name] = p.default !== undefined ? s.default(p.default) : s.optional();
      if (p.required) this.required.push(p);
    }
    // Values as given at add_node: checked, defaults filled, unknown names refused.
    this.schema = z.object(shape).strict();
    this.inputs = new Map(
      (spec.inputs ?? []).map((i) => [i.name, { ...i, accepts: [i.type].flat() }]),
    );
    this.outputs = new Map((spec.outputs ?? []).map((o) => [o.name, o.type]));
  }

  accepts(input, given) {
    return input.accepts.some(
      (t) => t === given || t === "any" || CONVERSIONS.has(`${given}->${t}`),
    );
  }

  applies(p, props) {
    const cond = p.applies_when;
    return !cond || cond.in.some((v) => v === props[cond.property]);
  }
}

export class BaselineError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** A canvas: a graphology multigraph whose nodes carry type and properties. */
export class BaselineCanvas {
  constructor(specs) {
    this.types = new Map(specs.map((s) => [s.type, new NodeType(s)]));
    this.graph = new Graph({ type: "directed", multi: true, allowSelfLoops: false });
  }

  /** Applies ops in order (each `{op: "add_node" | "connect", ...}`). */
  apply(ops) {
    for (const op of ops) {
      if (op.op === "add_node") this.addNode(op);
      else if (op.op === "connect") this.connect(op.source, op.target, true);
      else throw new BaselineError("unknown_op", `unknown op ${op.op}`);
    }
  }

  addNode({ id, type, properties = {} }) {
    const t = this.types.get(type);
    if (!t) throw new BaselineError("unknown_node_type", `unknown node type ${type}`);
    if (this.graph.hasNode(id)) throw new BaselineError("duplicate_id", `${id} exists`);
    const parsed = t.schema.safeParse(properties);
    if (!parsed.success) {
      throw new BaselineError("property_invalid", `${id}: ${parsed.error.issues[0].message}`);
    }
    this.graph.addNode(id, { type, properties: parsed.data, occupied: new Map() });
  }

  connect(source, target, checkCycle) {
    const g = this.graph;
    if (!g.hasNode(source.node)) throw new BaselineError("unknown_node", source.node);
    if (!g.hasNode(target.node)) throw new BaselineError("unknown_node", target.node);
    if (source.node === target.node) throw new BaselineError("self_loop", source.node);
    const from = this.types.get(g.getNodeAttribute(source.node, "type"));
    const to = this.types.get(g.getNodeAttribute(target.node, "type"));
    const given = from.outputs.get(source.port);
    if (given === undefined) throw new BaselineError("unknown_port", source.port);
    const input = to.inputs.get(target.port);
    if (!input) throw new BaselineError("unknown_port", target.port);
    if (!to.accepts(input, given)) throw new BaselineError("type_mismatch", `${given}`);
    const key = `${source.node}.${source.port}->${target.node}.${target.port}`;
    if (g.hasEdge(key)) throw new BaselineError("duplicate_edge", key);
    const occupied = g.getNodeAttribute(target.node, "occupied");
    if (!input.multiple && occupied.get(target.port)) {
      throw new BaselineError("input_occupied", `${target.node}.${target.port}`);
    }
    if (checkCycle && willCreateCycle(g, source.node, target.node)) {
      throw new BaselineError("cycle", key);
    }
    g.addDirectedEdgeWithKey(key, source.node, target.node, {
      sourcePort: source.port,
      targetPort: target.port,
    });
    occupied.set(target.port, (occupied.get(target.port) ?? 0) + 1);
  }

  /** Required properties and inputs of every node, values checked again. */
  validate() {
    const diagnostics = [];
    this.graph.forEachNode((id, attrs) => {
      const t = this.types.get(attrs.type);
      const parsed = t.schema.safeParse(attrs.properties);
      if (!parsed.success) {
        diagnostics.push({ code: "property_invalid", node: id });
      }
      for (const p of t.required) {
        if (attrs.properties[p.name] === undefined && t.applies(p, attrs.properties)) {
          diagnostics.push({ code: "required_property_missing", node: id, property: p.name });
        }
      }
      for (const input of t.inputs.values()) {
        if (input.required && !attrs.occupied.get(input.name)) {
          diagnostics.push({ code: "required_input_missing", node: id, port: input.name });
        }
      }
    });
    return { valid: diagnostics.length === 0, diagnostics };
  }

  topologicalOrder() {
    return topologicalSort(this.graph);
  }

  /** Loads a canvas document: nodes and edges checked, one cycle check at the end. */
  static fromJson(text, specs) {
    const doc = JSON.parse(text);
    const canvas = new BaselineCanvas(specs);
    for (const n of doc.nodes) canvas.addNode(n);
    for (const e of doc.edges) canvas.connect(e.source, e.target, false);
    if (hasCycle(canvas.graph)) throw new BaselineError("cycle", "the canvas has a cycle");
    return canvas;
  }
}
