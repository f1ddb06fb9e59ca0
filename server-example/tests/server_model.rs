//! The model routes against the real server: node types, checks of a
//! stored canvas (validate, can-connect, task previews), export and import
//! in every format, and the bad input of each.

mod support;

use axum::body::Body;
use reelgraph_server::serve::registry::Scope;
use reelgraph_server::serve::{AppState, Args, app};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use serde_json::{Value, json};
use support::{Answer, Server, expect_error, json};
use tower::ServiceExt;

/// The demo canvas every new data directory has.
const DEMO: &str = "/v1/canvases/the-last-lighthouse";

const COMFYUI_WORKFLOW: &str = include_str!("../../core/tests/fixtures/comfyui/v04_basic.json");

const LUT_GRADE: &str = r#"{"type": "lut_grade", "category": "post", "title": "LUT grade",
    "inputs": [{"name": "image", "type": "image", "required": true}],
    "outputs": [{"name": "image", "type": "image"}],
    "properties": [{"name": "lut", "type": "asset_ref", "pattern": ".*\\.cube"}]}"#;

/// The JSON body of a response, whatever its status.
async fn json_body(response: reqwest::Response) -> Value {
    json(response).await.1
}

/// Registers a node type with the admin key.
async fn register_type(server: &Server, spec: &str) -> reqwest::Response {
    server
        .post("/v1/node-types")
        .header(CONTENT_TYPE, "application/json")
        .body(spec.to_owned())
        .answer()
        .await
}

/// Makes canvas `id` from ops: a character, a shot and an image node, the
/// character wired to the shot.
async fn small_canvas(server: &Server, id: &str) {
    let created = server
        .post("/v1/canvases")
        .json(&json!({"id": id, "name": "Small"}))
        .answer()
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let ops = json!({"ops": [
        {"op": "add_node", "id": "hero", "type": "character",
         "properties": {"name": "Mara", "lora": "loras/mara.safetensors", "trigger_word": "mara_v2"}},
        {"op": "add_node", "id": "s1", "type": "shot", "properties": {"number": 1, "prompt": "Mara looks up"}},
        {"op": "add_node", "id": "img", "type": "image_gen", "properties": {}},
        {"op": "connect", "source": {"node": "hero", "port": "character"},
         "target": {"node": "s1", "port": "characters"}},
    ]});
    let patched = server
        .patch(&format!("/v1/canvases/{id}"))
        .header("If-Match", "0")
        .json(&ops)
        .answer()
        .await;
    assert_eq!(
        patched.status(),
        StatusCode::OK,
        "{}",
        patched.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn node_types_are_listed_a_page_at_a_time_and_read_one_by_one() {
    let server = Server::start();
    let mut names: Vec<String> = Vec::new();
    let mut path = "/v1/node-types?limit=7".to_owned();
    loop {
        let page = json_body(server.get(&path).answer().await).await;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 7);
        names.extend(
            items
                .iter()
                .map(|s| s["type"].as_str().expect("a type").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/node-types?limit=7&cursor={cursor}"),
            None => break,
        }
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted, "every type once, by name");
    for built_in in ["act", "character", "image_gen", "shot", "export"] {
        assert!(names.iter().any(|n| n == built_in), "{built_in} is listed");
    }

    let story = json_body(server.get("/v1/node-types?category=story").answer().await).await;
    let story = story["items"].as_array().expect("items");
    assert!(!story.is_empty() && story.iter().all(|s| s["category"] == "story"));

    let shot = server.get("/v1/node-types/shot").answer().await;
    assert_eq!(shot.status(), StatusCode::OK);
    let tag = shot.headers()[ETAG].clone();
    let spec = json_body(shot).await;
    assert_eq!(
        (spec["type"].as_str(), spec["category"].as_str()),
        (Some("shot"), Some("story"))
    );
    let again = server
        .get("/v1/node-types/shot")
        .header(IF_NONE_MATCH, tag)
        .answer()
        .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let missing = server.get("/v1/node-types/no_such_type").answer().await;
    expect_error(missing, 404, "not_found").await;
    for bad in ["limit=0", "limit=-1", "limit=100000"] {
        let response = server.get(&format!("/v1/node-types?{bad}")).answer().await;
        expect_error(response, 422, "invalid_field").await;
    }
    let response = server.get("/v1/node-types?cursor=zz").answer().await;
    expect_error(response, 400, "invalid_cursor").await;
    let response = server.get("/v1/node-types?colour=red").answer().await;
    expect_error(response, 422, "unknown_field").await;
}

#[tokio::test]
async fn a_registered_node_type_is_usable_and_survives_a_restart() {
    let mut server = Server::start();
    let created = register_type(&server, LUT_GRADE).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()[LOCATION], "/v1/node-types/lut_grade");
    assert_eq!(json_body(created).await["version"], 1);

    let duplicate = register_type(&server, LUT_GRADE).await;
    let body = expect_error(duplicate, 409, "duplicate_node_type").await;
    assert_eq!(body["details"]["version"], 1, "{body}");
    let newer = LUT_GRADE.replacen(r#""category""#, r#""version": 2, "category""#, 1);
    assert_eq!(
        register_type(&server, &newer).await.status(),
        StatusCode::CREATED
    );

    // Bad specs: a rule of the catalogue, a field no spec has, not JSON, not JSON at all.
    let two_outputs = LUT_GRADE.replacen("lut_grade", "twice", 1).replace(
        r#"[{"name": "image", "type": "image"}]"#,
        r#"[{"name": "o", "type": "image"}, {"name": "o", "type": "image"}]"#,
    );
    expect_error(
        register_type(&server, &two_outputs).await,
        422,
        "invalid_spec",
    )
    .await;
    let unknown = LUT_GRADE.replacen("lut_grade", "odd", 1).replacen(
        r#""title""#,
        r#""colour": "red", "title""#,
        1,
    );
    let body = expect_error(register_type(&server, &unknown).await, 422, "unknown_field").await;
    assert_eq!(body["details"]["field"], "colour");
    expect_error(
        register_type(&server, "{\"type\": ").await,
        400,
        "invalid_json",
    )
    .await;
    let as_text = server
        .post("/v1/node-types")
        .header(CONTENT_TYPE, "text/plain")
        .body(LUT_GRADE)
        .answer()
        .await;
    expect_error(as_text, 415, "unsupported_media_type").await;

    server.restart();
    let spec = json_body(server.get("/v1/node-types/lut_grade").answer().await).await;
    assert_eq!(spec["version"], 2, "{spec}");
    small_canvas(&server, "graded").await;
    let ops = json!({"ops": [{"op": "add_node", "id": "grade", "type": "lut_grade", "properties": {"lut": "film.cube"}}]});
    let patched = server
        .patch("/v1/canvases/graded")
        .header("If-Match", "1")
        .json(&ops)
        .answer()
        .await;
    assert_eq!(
        patched.status(),
        StatusCode::OK,
        "the type is usable after the restart"
    );
}

/// In-process: registering a node type takes the admin scope; reading the
/// catalogue, checking a canvas and importing one do not.
#[tokio::test(flavor = "multi_thread")]
async fn registering_a_node_type_takes_the_admin_scope() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let state = AppState::open(Args::local(dir.path().to_owned())).expect("the state");
    let (_, editor) = state
        .keys
        .create("editor", &[Scope::Read, Scope::Write])
        .expect("a key");
    let (_, admin) = state.keys.create("admin", &[Scope::Admin]).expect("a key");
    let router = app(state);
    let call = |key: &str, method: &str, path: &str, body: &str| {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .expect("a request");
        router.clone().oneshot(request)
    };
    let listed = call(&editor, "GET", "/v1/node-types?limit=1", "")
        .await
        .expect("an answer");
    assert_eq!(listed.status(), StatusCode::OK);
    let empty = r#"{"nodes": [], "edges": [], "reelgraph": {"id": "flow"}}"#;
    let imported = call(&editor, "POST", "/v1/canvases/import", empty)
        .await
        .expect("an answer");
    assert_eq!(imported.status(), StatusCode::CREATED);
    let checked = call(&editor, "POST", "/v1/canvases/flow/validate", "")
        .await
        .expect("an answer");
    assert_eq!(checked.status(), StatusCode::OK);
    let refused = call(&editor, "POST", "/v1/node-types", LUT_GRADE)
        .await
        .expect("an answer");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = serde_json::from_slice(
        &axum::body::to_bytes(refused.into_body(), 1 << 20)
            .await
            .expect("a body"),
    )
    .expect("JSON");
    assert_eq!(body["error"]["details"]["required_scope"], "admin");
    let registered = call(&admin, "POST", "/v1/node-types", LUT_GRADE)
        .await
        .expect("an answer");
    assert_eq!(registered.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_stored_canvas_is_validated_and_wires_are_checked() {
    let server = Server::start();
    let report = json_body(server.post(&format!("{DEMO}/validate")).answer().await).await;
    assert_eq!(report["valid"], true, "{report}");

    small_canvas(&server, "small").await;
    let unwired =
        json!({"ops": [{"op": "add_node", "id": "out", "type": "export", "properties": {}}]});
    let patched = server
        .patch("/v1/canvases/small")
        .header("If-Match", "1")
        .json(&unwired)
        .answer()
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let report = json_body(server.post("/v1/canvases/small/validate").answer().await).await;
    assert_eq!(report["valid"], false, "the export has no edit: {report}");
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert!(codes.contains(&"required_input_missing"), "{report}");

    let ask = |source: (&str, &str), target: (&str, &str)| {
        server
            .post("/v1/canvases/small/can-connect")
            .json(&json!({"source": {"node": source.0, "port": source.1}, "target": {"node": target.0, "port": target.1}}))
            .send()
    };
    let allowed = json_body(
        ask(("s1", "shot"), ("img", "shot"))
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!(allowed, json!({"allowed": true}));
    for (source, target, code) in [
        (("hero", "character"), ("img", "reference"), "type_mismatch"),
        (("ghost", "shot"), ("img", "shot"), "unknown_node"),
        (("s1", "no_port"), ("img", "shot"), "unknown_port"),
        (
            ("hero", "character"),
            ("s1", "characters"),
            "duplicate_edge",
        ),
        (("s1", "shot"), ("s1", "shot"), "self_loop"),
    ] {
        let answer = ask(source, target).await.expect("an answer");
        assert_eq!(answer.status(), StatusCode::OK);
        let answer = json_body(answer).await;
        assert_eq!(answer["allowed"], false, "{answer}");
        assert_eq!(answer["refusal"]["code"], code, "{answer}");
        assert!(!answer["refusal"]["hint"].as_str().unwrap_or("").is_empty());
    }

    // Bad requests: a body of the wrong shape, not JSON, not said to be JSON; a canvas that is not there.
    let post = |path: &str, content_type: &str, body: &str| {
        server
            .post(path)
            .header(CONTENT_TYPE, content_type)
            .body(body.to_owned())
            .send()
    };
    let path = "/v1/canvases/small/can-connect";
    let extra = r#"{"source": {"node": "s1", "port": "shot"}, "target": {"node": "img", "port": "shot"}, "force": true}"#;
    let body = expect_error(
        post(path, "application/json", extra)
            .await
            .expect("an answer"),
        422,
        "unknown_field",
    )
    .await;
    assert_eq!(body["details"]["field"], "force");
    let missing = r#"{"source": {"node": "s1", "port": "shot"}}"#;
    expect_error(
        post(path, "application/json", missing)
            .await
            .expect("an answer"),
        422,
        "invalid_body",
    )
    .await;
    expect_error(
        post(path, "application/json", "{\"source\"")
            .await
            .expect("an answer"),
        400,
        "invalid_json",
    )
    .await;
    expect_error(
        post(path, "text/plain", extra).await.expect("an answer"),
        415,
        "unsupported_media_type",
    )
    .await;
    let ghost = post(
        "/v1/canvases/ghost/can-connect",
        "application/json",
        r#"{"source": {"node": "a", "port": "b"}, "target": {"node": "c", "port": "d"}}"#,
    );
    expect_error(ghost.await.expect("an answer"), 404, "not_found").await;
    let ghost = server.post("/v1/canvases/ghost/validate").answer().await;
    expect_error(ghost, 404, "not_found").await;
}

#[tokio::test]
async fn task_previews_show_what_each_node_would_send() {
    let server = Server::start();
    small_canvas(&server, "small").await;
    let wired = json!({"ops": [{"op": "connect", "source": {"node": "s1", "port": "shot"}, "target": {"node": "img", "port": "shot"}}]});
    let patched = server
        .patch("/v1/canvases/small")
        .header("If-Match", "1")
        .json(&wired)
        .answer()
        .await;
    assert_eq!(patched.status(), StatusCode::OK);

    let response = server
        .get("/v1/canvases/small/task-previews?quality=draft")
        .answer()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let tag = response.headers()[ETAG].clone();
    let previews = json_body(response).await;
    assert_eq!(previews["quality"], "draft");
    let items = previews["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "only the image node has a task: {previews}");
    assert_eq!(items[0]["function"], "image.generate");
    assert_eq!(items[0]["params"]["trigger_words"], json!(["mara_v2"]));

    let unchanged = server
        .get("/v1/canvases/small/task-previews?quality=draft")
        .header(IF_NONE_MATCH, tag.clone())
        .answer()
        .await;
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    let other_tier = server
        .get("/v1/canvases/small/task-previews?quality=high")
        .header(IF_NONE_MATCH, tag)
        .answer()
        .await;
    assert_eq!(
        other_tier.status(),
        StatusCode::OK,
        "another tier is another preview"
    );

    let one = json_body(
        server
            .get("/v1/canvases/small/task-previews?node=img")
            .answer()
            .await,
    )
    .await;
    assert_eq!(
        (one["quality"].as_str(), one["items"][0]["node"].as_str()),
        (Some("standard"), Some("img"))
    );

    let get = |query: &str| {
        server
            .get(&format!("/v1/canvases/small/task-previews?{query}"))
            .send()
    };
    expect_error(get("node=hero").await.expect("an answer"), 422, "no_task").await;
    expect_error(
        get("node=ghost").await.expect("an answer"),
        422,
        "unknown_node",
    )
    .await;
    expect_error(
        get("quality=cinematic").await.expect("an answer"),
        422,
        "invalid_body",
    )
    .await;
    expect_error(
        get("tier=draft").await.expect("an answer"),
        422,
        "unknown_field",
    )
    .await;
    let ghost = server
        .get("/v1/canvases/ghost/task-previews")
        .answer()
        .await;
    expect_error(ghost, 404, "not_found").await;
}

#[tokio::test]
async fn a_canvas_is_exported_in_the_format_accept_or_the_query_names() {
    let server = Server::start();
    let export = |accept: &str| {
        server
            .get(&format!("{DEMO}/export"))
            .header(ACCEPT, accept.to_owned())
            .send()
    };
    let cases = [
        (
            "application/vnd.reelgraph.canvas+json",
            "application/vnd.reelgraph.canvas+json",
            "\"format\":\"reelgraph.canvas\"",
        ),
        (
            "application/json",
            "application/json",
            "\"format\":\"reelgraph.canvas\"",
        ),
        (
            "application/vnd.reelgraph.react-flow+json",
            "application/vnd.reelgraph.react-flow+json",
            "\"nodes\":[",
        ),
        (
            "text/vnd.graphviz",
            "text/vnd.graphviz; charset=utf-8",
            "digraph",
        ),
        (
            "text/vnd.mermaid",
            "text/vnd.mermaid; charset=utf-8",
            "flowchart LR",
        ),
        ("image/svg+xml", "image/svg+xml", "<svg"),
        ("text/html;q=0.9, image/*;q=0.8", "image/svg+xml", "<svg"),
    ];
    for (accept, content_type, starts) in cases {
        let response = export(accept).await.expect("an answer");
        assert_eq!(response.status(), StatusCode::OK, "{accept}");
        assert_eq!(response.headers()[CONTENT_TYPE], content_type, "{accept}");
        let text = response.text().await.expect("a body");
        assert!(
            text.contains(starts),
            "{accept}: {}",
            &text[..text.len().min(200)]
        );
    }
    let by_query = server
        .get(&format!("{DEMO}/export?format=svg"))
        .answer()
        .await;
    assert_eq!(by_query.headers()[CONTENT_TYPE], "image/svg+xml");
    let flow = json_body(
        server
            .get(&format!("{DEMO}/export?format=react_flow"))
            .answer()
            .await,
    )
    .await;
    assert_eq!(flow["nodes"].as_array().map(Vec::len), Some(50));

    // The demo has no ComfyUI nodes: an API prompt would be empty.
    let prompt = export("application/vnd.reelgraph.comfyui-api+json")
        .await
        .expect("an answer");
    expect_error(prompt, 422, "empty_prompt").await;

    let svg = export("image/svg+xml").await.expect("an answer");
    let tag = svg.headers()[ETAG].clone();
    let again = server
        .get(&format!("{DEMO}/export"))
        .header(ACCEPT, "image/svg+xml")
        .header(IF_NONE_MATCH, tag.clone())
        .answer()
        .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let other = server
        .get(&format!("{DEMO}/export"))
        .header(ACCEPT, "text/vnd.graphviz")
        .header(IF_NONE_MATCH, tag.clone())
        .answer()
        .await;
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "another format has another tag"
    );
    // A registration can change how a canvas draws: the tag follows the catalogue.
    assert_eq!(
        register_type(&server, LUT_GRADE).await.status(),
        StatusCode::CREATED
    );
    let after = server
        .get(&format!("{DEMO}/export"))
        .header(ACCEPT, "image/svg+xml")
        .header(IF_NONE_MATCH, tag)
        .answer()
        .await;
    assert_eq!(after.status(), StatusCode::OK);

    let body = expect_error(
        export("text/html").await.expect("an answer"),
        406,
        "not_acceptable",
    )
    .await;
    assert!(
        body["details"]["supported"]
            .as_array()
            .is_some_and(|s| s.contains(&json!("image/svg+xml")))
    );
    expect_error(
        export("image/svg+xml;q=0").await.expect("an answer"),
        406,
        "not_acceptable",
    )
    .await;
    let unknown = server
        .get(&format!("{DEMO}/export?format=png"))
        .answer()
        .await;
    expect_error(unknown, 422, "invalid_field").await;
    let ghost = server
        .get("/v1/canvases/ghost/export?format=svg")
        .answer()
        .await;
    expect_error(ghost, 404, "not_found").await;
}

#[tokio::test]
async fn documents_in_every_format_are_imported_as_new_canvases() {
    let mut server = Server::start();
    let import = |query: &str, content_type: &str, body: String| {
        server
            .post(&format!("/v1/canvases/import{query}"))
            .header(CONTENT_TYPE, content_type.to_owned())
            .body(body)
            .send()
    };
    let native = server
        .get(DEMO)
        .answer()
        .await
        .text()
        .await
        .expect("a body");
    let flow = server
        .get(&format!("{DEMO}/export?format=react_flow"))
        .answer()
        .await
        .text()
        .await
        .expect("a body");

    // The same canvas through the native document and React Flow, each named by its media type and told from the content.
    let cases = [
        (
            "?id=copy_native",
            "application/vnd.reelgraph.canvas+json",
            native.clone(),
            "native",
        ),
        (
            "?id=copy_flow",
            "application/vnd.reelgraph.react-flow+json",
            flow.clone(),
            "react_flow",
        ),
        (
            "?id=sniffed_flow&name=Sniffed",
            "application/json",
            flow.clone(),
            "react_flow",
        ),
        (
            "?id=sniffed_native",
            "application/json; charset=utf-8",
            native.clone(),
            "native",
        ),
    ];
    for (query, content_type, body, format) in cases {
        let response = import(query, content_type, body).await.expect("an answer");
        assert_eq!(response.status(), StatusCode::CREATED, "{query}");
        let id = query
            .trim_start_matches("?id=")
            .split('&')
            .next()
            .expect("an id");
        assert_eq!(
            response.headers()[LOCATION],
            format!("/v1/canvases/{id}").as_str()
        );
        let imported = json_body(response).await;
        assert_eq!(imported["format"], format, "{query}");
        assert_eq!(imported["canvas"]["id"], id);
        assert_eq!(
            imported["canvas"]["nodes"].as_array().map(Vec::len),
            Some(50),
            "{query}"
        );
        let stored = json_body(server.get(&format!("/v1/canvases/{id}")).answer().await).await;
        assert_eq!(
            stored["edges"].as_array().map(Vec::len),
            Some(102),
            "{query}"
        );
    }
    let named = json_body(server.get("/v1/canvases/sniffed_flow").answer().await).await;
    assert_eq!(named["name"], "Sniffed");

    // A ComfyUI workflow registers its classes; the canvas keeps them across a restart.
    let response = import(
        "?id=comfy",
        "application/vnd.reelgraph.comfyui-workflow+json",
        COMFYUI_WORKFLOW.to_owned(),
    )
    .await
    .expect("an answer");
    assert_eq!(response.status(), StatusCode::CREATED);
    let imported = json_body(response).await;
    assert_eq!(imported["format"], "comfyui_workflow");
    assert!(
        imported["registered_types"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("KSampler"))),
        "{imported}"
    );
    server.restart();
    let report = json_body(server.post("/v1/canvases/comfy/validate").answer().await).await;
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert!(!codes.contains(&"unknown_node_type"), "{report}");
    let prompt = server
        .get("/v1/canvases/comfy/export")
        .header(ACCEPT, "application/vnd.reelgraph.comfyui-api+json")
        .answer()
        .await;
    assert_eq!(prompt.status(), StatusCode::OK);
    assert_eq!(
        prompt.headers()[CONTENT_TYPE],
        "application/vnd.reelgraph.comfyui-api+json"
    );
    let prompt = json_body(prompt).await;
    assert!(
        prompt
            .as_object()
            .is_some_and(|p| p.values().any(|n| n["class_type"] == "KSampler")),
        "{prompt}"
    );

    // Bad input: a taken id, a type no importer reads, JSON of no format, broken JSON, a document that is not the format named.
    let import = |query: &str, content_type: &str, body: &str| {
        server
            .post(&format!("/v1/canvases/import{query}"))
            .header(CONTENT_TYPE, content_type.to_owned())
            .body(body.to_owned())
            .send()
    };
    let taken = import("", "application/vnd.reelgraph.canvas+json", &native)
        .await
        .expect("an answer");
    expect_error(taken, 409, "duplicate_id").await;
    let body = expect_error(
        import("", "text/csv", "a,b").await.expect("an answer"),
        415,
        "unsupported_media_type",
    )
    .await;
    assert!(
        body["details"]["supported"]
            .as_array()
            .is_some_and(|s| s.contains(&json!("application/vnd.reelgraph.react-flow+json")))
    );
    expect_error(
        import("", "application/json", r#"{"colour": 1}"#)
            .await
            .expect("an answer"),
        415,
        "unknown_format",
    )
    .await;
    expect_error(
        import("", "application/json", "{\"nodes\": [")
            .await
            .expect("an answer"),
        400,
        "invalid_json",
    )
    .await;
    let not_flow = import("", "application/vnd.reelgraph.react-flow+json", "[1, 2]")
        .await
        .expect("an answer");
    expect_error(not_flow, 400, "invalid_json").await;
    let bad_id = import(
        "?id=%20padded",
        "application/vnd.reelgraph.canvas+json",
        &native,
    )
    .await
    .expect("an answer");
    expect_error(bad_id, 422, "invalid_id").await;
    // `import` would be a canvas no GET reaches: its path is the import route.
    let reserved = import("?id=import", "application/json", &native)
        .await
        .expect("an answer");
    expect_error(reserved, 422, "invalid_id").await;
    let reserved = server
        .post("/v1/canvases")
        .json(&json!({"id": "import", "name": "I"}))
        .answer()
        .await;
    expect_error(reserved, 422, "invalid_id").await;
    let unknown = import("?id=x&owner=me", "application/json", &native)
        .await
        .expect("an answer");
    expect_error(unknown, 422, "unknown_field").await;
}
