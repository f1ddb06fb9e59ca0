//! Bad input: every rejection has a stable code, and a rejected apply leaves
//! the canvas exactly as it was.

use reelgraph::{Canvas, Catalog, Op, PortRef, Position};
use serde_json::{Value, json};

/// A small canvas with something to lose: a character feeding a shot.
fn canvas() -> Canvas {
    let mut canvas = Canvas::new(Catalog::builtin(), "bad", "Bad input");
    canvas
        .apply(vec![
            Op::add_node(
                "mara",
                "character",
                json!({"name": "Mara", "trigger_word": "mara_v2"}),
            ),
            Op::add_node(
                "s1",
                "shot",
                json!({"number": 1, "prompt": "Mara at the window"}),
            ),
            Op::add_node("img", "image_gen", json!({"width": 1024})),
            Op::connect(("mara", "character"), ("s1", "characters")),
            Op::connect(("s1", "shot"), ("img", "shot")),
        ])
        .expect("the fixture applies");
    canvas
}

/// Applies `ops` after a valid op, expecting the error `code` at `op_index`,
/// and checks that nothing changed.
#[track_caller]
fn assert_rejected(canvas: &mut Canvas, op: Op, code: &str) -> reelgraph::Error {
    let before = canvas.to_json();
    let revision = canvas.revision();
    // A valid op first proves the rollback undoes applied work, not just checks.
    let ops = vec![Op::add_node("extra", "prop", json!({"name": "Lamp"})), op];
    let err = canvas.apply(ops).expect_err("the apply must be refused");
    assert_eq!(err.code(), code, "wrong code for: {err}");
    assert_eq!(err.details()["op_index"], json!(1));
    assert!(!err.hint().is_empty(), "every error has a hint: {err}");
    assert_eq!(canvas.revision(), revision);
    assert_eq!(
        canvas.to_json(),
        before,
        "a rejected apply changed the canvas"
    );
    err
}

fn set(id: &str, props: Value) -> Op {
    let Value::Object(properties) = props else {
        panic!("set() takes a JSON object");
    };
    Op::SetProperties {
        id: id.into(),
        properties,
        unset: Vec::new(),
    }
}

#[test]
fn unknown_node_type() {
    let err = assert_rejected(
        &mut canvas(),
        Op::add_node("x", "hologram", json!({})),
        "unknown_node_type",
    );
    assert!(
        err.hint().contains("image_gen"),
        "the hint lists known types"
    );
}

#[test]
fn unknown_property() {
    let err = assert_rejected(
        &mut canvas(),
        set("s1", json!({"framing": "wide"})),
        "unknown_property",
    );
    assert!(err.hint().contains("camera"));
    assert_rejected(
        &mut canvas(),
        Op::add_node("x", "shot", json!({"colour": 1})),
        "unknown_property",
    );
}

#[test]
fn wrong_type_out_of_range_and_not_in_enum() {
    let mut c = canvas();
    assert_rejected(
        &mut c,
        set("s1", json!({"number": "one"})),
        "property_invalid",
    );
    assert_rejected(
        &mut c,
        set("s1", json!({"number": 1.5})),
        "property_invalid",
    );
    assert_rejected(
        &mut c,
        set("s1", json!({"duration": "4s"})),
        "property_invalid",
    );
    assert_rejected(
        &mut c,
        set("s1", json!({"duration": 0.0})),
        "property_invalid",
    );
    assert_rejected(
        &mut c,
        set("s1", json!({"duration": 601})),
        "property_invalid",
    );
    assert_rejected(
        &mut c,
        set("mara", json!({"lora_weight": 2.5})),
        "property_invalid",
    );
    assert_rejected(
        &mut c,
        set("mara", json!({"lora_weight": true})),
        "property_invalid",
    );
    let err = assert_rejected(
        &mut c,
        set("s1", json!({"camera": "dutch_angle"})),
        "property_invalid",
    );
    assert!(
        err.hint().contains("close_up"),
        "the hint lists allowed values: {}",
        err.hint()
    );
    assert_rejected(
        &mut c,
        set("mara", json!({"lora": "mara.txt"})),
        "property_invalid",
    );
}

#[test]
fn composite_layer_objects_are_checked_field_by_field() {
    let mut c = canvas();
    c.apply(vec![Op::add_node("comp", "composite", json!({}))])
        .expect("add composite");
    let ok = json!({"layers": [{"input_index": 0, "opacity": 0.5, "blend_mode": "screen"}]});
    c.apply(vec![set("comp", ok)]).expect("a valid layer list");
    for bad in [
        json!({"layers": [{"opacity": 1.5}]}),
        json!({"layers": [{"blend_mode": "glow"}]}),
        json!({"layers": [{"opacity": 0.5, "shadow": true}]}),
        json!({"layers": "all"}),
    ] {
        assert_rejected(&mut c, set("comp", bad), "property_invalid");
    }
}

#[test]
fn non_finite_numbers_are_refused() {
    // JSON has no NaN or infinity: text carrying them is refused at parse time.
    for text in [
        r#"{"op": "set_properties", "id": "s1", "properties": {"duration": NaN}}"#,
        r#"{"op": "set_properties", "id": "s1", "properties": {"duration": Infinity}}"#,
        r#"{"op": "set_properties", "id": "s1", "properties": {"duration": 1e999}}"#,
    ] {
        let err = Op::parse_list(text).expect_err("non-finite numbers are not JSON");
        assert_eq!(err.code(), "invalid_json");
    }
    // From Rust, a non-finite position is refused at the op.
    let op = Op::MoveNode {
        id: "s1".into(),
        position: Position::new(f64::NAN, 0.0),
    };
    assert_rejected(&mut canvas(), op, "invalid_field");
    let op = Op::MoveNode {
        id: "s1".into(),
        position: Position::new(0.0, f64::INFINITY),
    };
    assert_rejected(&mut canvas(), op, "invalid_field");
}

#[test]
fn duplicate_ids() {
    assert_rejected(
        &mut canvas(),
        Op::add_node("s1", "shot", json!({})),
        "duplicate_id",
    );
    let edge = Op::Connect {
        id: Some("mara.character->s1.characters".into()),
        source: PortRef::new("mara", "character"),
        target: PortRef::new("extra", "name"),
    };
    // Ports are checked before the id: this one fails on the port.
    assert_rejected(&mut canvas(), edge, "unknown_port");
    let mut c = canvas();
    c.apply(vec![Op::add_node("s2", "shot", json!({}))])
        .expect("second shot");
    let edge = Op::Connect {
        id: Some("mara.character->s1.characters".into()),
        source: PortRef::new("mara", "character"),
        target: PortRef::new("s2", "characters"),
    };
    assert_rejected(&mut c, edge, "duplicate_id");
    let group = Op::AddGroup {
        index: None,
        id: "g".into(),
        label: None,
        nodes: vec!["s1".into(), "s1".into()],
        ui: None,
    };
    assert_rejected(&mut canvas(), group, "invalid_field");
}

#[test]
fn empty_and_huge_strings() {
    let mut c = canvas();
    assert_rejected(&mut c, Op::add_node("", "shot", json!({})), "invalid_id");
    assert_rejected(&mut c, Op::add_node(" s9", "shot", json!({})), "invalid_id");
    assert_rejected(
        &mut c,
        Op::add_node("a\nb", "shot", json!({})),
        "invalid_id",
    );
    assert_rejected(
        &mut c,
        Op::add_node(&"x".repeat(129), "shot", json!({})),
        "invalid_id",
    );
    // A required text property cannot be empty; an optional one can.
    assert_rejected(&mut c, set("mara", json!({"name": ""})), "property_invalid");
    assert_rejected(
        &mut c,
        set("mara", json!({"name": "   "})),
        "property_invalid",
    );
    c.apply(vec![set("s1", json!({"dialogue": ""}))])
        .expect("empty optional text");

    let megabyte = "a".repeat(1 << 20);
    let err = assert_rejected(
        &mut c,
        set("s1", json!({"prompt": megabyte})),
        "property_invalid",
    );
    assert!(err.to_string().contains("65536"), "{err}");
    let label = Op::SetLabel {
        id: "s1".into(),
        label: Some("a".repeat(1 << 20)),
    };
    assert_rejected(&mut c, label, "invalid_field");
}

#[test]
fn values_nested_deeper_than_the_limit() {
    let catalog = Catalog::builtin();
    catalog
        .register_json(
            r#"{"type": "notes", "category": "user", "title": "Notes",
                "properties": [{"name": "data", "type": "object"}]}"#,
        )
        .expect("register notes");
    let mut c = Canvas::new(catalog, "deep", "Deep");
    let nest = |levels: usize| (0..levels).fold(json!(1), |inner, _| json!({"k": inner}));
    c.apply(vec![Op::add_node("n", "notes", json!({"data": nest(32)}))])
        .expect("32 levels is the documented limit");
    let err = assert_rejected(
        &mut c,
        set("n", json!({"data": nest(33)})),
        "property_invalid",
    );
    assert!(err.to_string().contains("deeper than 32"), "{err}");
    let ui = Op::SetUi {
        id: "n".into(),
        ui: Some(nest(40)),
    };
    assert_rejected(&mut c, ui, "invalid_field");
}

#[test]
fn spec_json_with_a_typo_names_the_field() {
    let catalog = Catalog::builtin();
    let err = catalog
        .register_json(
            r#"{"type": "grade", "category": "post", "title": "Grade",
                "properties": [{"name": "gain", "type": "float", "maximum": 2}]}"#,
        )
        .expect_err("`maximum` is not a spec field");
    assert_eq!(err.code(), "invalid_spec");
    assert!(err.to_string().contains("maximum"), "{err}");
    assert!(catalog.get("grade").is_none(), "nothing was registered");

    let err = catalog
        .register_json(r#"{"type": "grade", "category": "post", "title": "Grade", "inptus": []}"#)
        .expect_err("`inptus` is a typo");
    assert!(err.to_string().contains("inptus"), "{err}");

    // One bad spec in a list registers none of them.
    let err = catalog
        .register_json(
            r#"[{"type": "ok_one", "category": "user", "title": "Ok"},
                {"type": "bad_one", "category": "user", "title": "Bad",
                 "properties": [{"name": "mode", "type": "enum"}]}]"#,
        )
        .expect_err("an enum without values");
    assert_eq!(err.code(), "invalid_spec");
    assert!(catalog.get("ok_one").is_none());
}

#[test]
fn ops_naming_missing_things() {
    let mut c = canvas();
    assert_rejected(
        &mut c,
        Op::RemoveNode { id: "ghost".into() },
        "unknown_node",
    );
    assert_rejected(&mut c, set("ghost", json!({})), "unknown_node");
    assert_rejected(
        &mut c,
        Op::connect(("ghost", "shot"), ("img", "shot")),
        "unknown_node",
    );
    assert_rejected(&mut c, Op::Disconnect { id: "nope".into() }, "unknown_edge");
    assert_rejected(
        &mut c,
        Op::RemoveGroup { id: "nope".into() },
        "unknown_group",
    );
    let group = Op::AddGroup {
        index: None,
        id: "g".into(),
        label: None,
        nodes: vec!["ghost".into()],
        ui: None,
    };
    assert_rejected(&mut c, group, "unknown_node");
}

#[test]
fn connection_rules() {
    let mut c = canvas();
    c.apply(vec![
        Op::add_node("img2", "image_gen", json!({})),
        Op::add_node("fx", "effect", json!({"effect": "blur"})),
        Op::add_node("vid", "video_gen", json!({})),
    ])
    .expect("more nodes");
    assert_rejected(
        &mut c,
        Op::connect(("s1", "shot"), ("s1", "scene")),
        "self_loop",
    );
    let err = assert_rejected(
        &mut c,
        Op::connect(("s1", "shots"), ("img2", "shot")),
        "unknown_port",
    );
    assert!(err.hint().contains("shot"), "{}", err.hint());
    let err = assert_rejected(
        &mut c,
        Op::connect(("mara", "character"), ("img2", "reference")),
        "type_mismatch",
    );
    assert!(
        err.hint().contains("image"),
        "the hint says what fits: {}",
        err.hint()
    );
    assert_rejected(
        &mut c,
        Op::connect(("mara", "character"), ("s1", "characters")),
        "duplicate_edge",
    );
    c.apply(vec![Op::connect(("img", "image"), ("fx", "media"))])
        .expect("image into effect");
    assert_rejected(
        &mut c,
        Op::connect(("img2", "image"), ("fx", "media")),
        "input_occupied",
    );
    // fx -> ... -> img would close a loop img -> fx -> vid? Build one: img -> fx, fx -> vid, vid -> ? ; use shot chain.
    c.apply(vec![Op::connect(("fx", "media"), ("vid", "image"))])
        .expect("effect into video");
    c.apply(vec![Op::add_node("up", "upscale", json!({}))])
        .expect("upscale");
    c.apply(vec![Op::connect(("vid", "video"), ("up", "image"))])
        .expect("video into upscale");
    assert_rejected(
        &mut c,
        Op::connect(("up", "image"), ("img", "reference")),
        "cycle",
    );
    // can_connect answers the same without changing anything.
    let before = c.to_json();
    let err = c
        .can_connect(
            &PortRef::new("up", "image"),
            &PortRef::new("img", "reference"),
        )
        .expect_err("cycle");
    assert_eq!(err.code(), "cycle");
    c.can_connect(
        &PortRef::new("up", "image"),
        &PortRef::new("img2", "reference"),
    )
    .expect("no cycle through img2");
    assert_eq!(c.to_json(), before);
}

#[test]
fn documents_that_cannot_load() {
    let catalog = Catalog::builtin();
    let cases = [
        (
            r#"{"format": "reelgraph.canvas", "format_version": 1, "id": "c", "nodes": ["#,
            "invalid_json",
        ),
        (
            r#"{"format": "comfyui", "format_version": 1, "id": "c"}"#,
            "wrong_format",
        ),
        (r#"{"format_version": 1, "id": "c"}"#, "wrong_format"),
        (
            r#"{"format": "reelgraph.canvas", "format_version": 99, "id": "c", "future": true}"#,
            "unsupported_format_version",
        ),
        (
            r#"{"format": "reelgraph.canvas", "format_version": 1, "id": "c",
                "nodes": [{"id": "a", "type": "prop", "type_version": 1},
                          {"id": "a", "type": "prop", "type_version": 1}]}"#,
            "duplicate_id",
        ),
        (
            r#"{"format": "reelgraph.canvas", "format_version": 1, "id": "c", "extra": 1}"#,
            "invalid_json",
        ),
    ];
    for (text, code) in cases {
        let err = Canvas::from_json(catalog.clone(), text).expect_err(text);
        assert_eq!(err.code(), code, "{text}: {err}");
    }
    let err = Canvas::from_json(
        catalog,
        r#"{"format": "reelgraph.canvas", "format_version": 7, "id": "c"}"#,
    )
    .expect_err("newer");
    assert!(
        err.to_string().contains("format_version 7") && err.to_string().contains("up to 2"),
        "names both versions: {err}"
    );
}
