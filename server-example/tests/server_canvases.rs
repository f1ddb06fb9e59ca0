//! Canvases over HTTP, against the real server process: the life cycle,
//! optimistic concurrency (`If-Match`), ETags, pagination, bad input, and a
//! restart.

mod support;

use serde_json::{Value, json};
use support::{Answer, Server, expect_error, json};

fn add_shot(id: &str) -> Value {
    json!({"op": "add_node", "id": id, "type": "shot", "properties": {"prompt": "rain"}})
}

async fn create(server: &Server, id: &str, name: &str) -> Value {
    let response = server
        .post("/v1/canvases")
        .json(&json!({"id": id, "name": name}))
        .answer()
        .await;
    let (status, body) = json(response).await;
    assert_eq!(status, 201, "{body}");
    body
}

#[tokio::test]
async fn a_canvas_lives_from_create_to_delete() {
    let server = Server::start();
    let response = server
        .post("/v1/canvases")
        .json(&json!({"id": "teaser", "name": "Teaser"}))
        .answer()
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["location"], "/v1/canvases/teaser");
    let (_, created) = json(response).await;
    assert_eq!(
        (created["id"].as_str(), created["revision"].as_u64()),
        (Some("teaser"), Some(0))
    );

    // Ops: the new revision and the inverse come back.
    let response = server
        .patch("/v1/canvases/teaser")
        .header("if-match", "0")
        .json(&json!({"ops": [add_shot("s1"), add_shot("s2")]}))
        .answer()
        .await;
    let etag = response.headers()["etag"]
        .to_str()
        .expect("text")
        .to_owned();
    let (status, applied) = json(response).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["revision"], 1);
    assert_eq!(applied["inverse"].as_array().map(Vec::len), Some(2));
    assert!(etag.starts_with("\"1-"), "{etag}");

    let response = server.get("/v1/canvases/teaser").answer().await;
    assert_eq!(response.headers()["etag"].to_str().expect("text"), etag);
    let (_, doc) = json(response).await;
    assert_eq!(doc["nodes"].as_array().map(Vec::len), Some(2));

    // Undo with the inverse, based on the ETag.
    let response = server
        .patch("/v1/canvases/teaser")
        .header("if-match", &etag)
        .json(&json!({"ops": applied["inverse"]}))
        .answer()
        .await;
    let (status, undone) = json(response).await;
    assert_eq!(
        (status, undone["revision"].as_u64()),
        (200, Some(2)),
        "{undone}"
    );

    // Replace with a whole document.
    let mut replacement = doc.clone();
    replacement["name"] = json!("Teaser, cut 2");
    let response = server
        .put("/v1/canvases/teaser")
        .header("if-match", "2")
        .json(&replacement)
        .answer()
        .await;
    let (status, replaced) = json(response).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        (replaced["revision"].as_u64(), replaced["name"].as_str()),
        (Some(3), Some("Teaser, cut 2"))
    );

    // Versions, newest first, and one of them.
    let (_, versions) = json(server.get("/v1/canvases/teaser/versions").answer().await).await;
    let revisions: Vec<u64> = versions["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|v| v["revision"].as_u64())
        .collect();
    assert_eq!(revisions, vec![3, 2, 1, 0]);
    let (status, first) = json(server.get("/v1/canvases/teaser/versions/1").answer().await).await;
    assert_eq!(
        (status, first["nodes"].as_array().map(Vec::len)),
        (200, Some(2))
    );

    let response = server
        .delete("/v1/canvases/teaser")
        .header("if-match", "2")
        .answer()
        .await;
    expect_error(response, 409, "conflict").await;
    let response = server.delete("/v1/canvases/teaser").answer().await;
    assert_eq!(response.status(), 204);
    let response = server.get("/v1/canvases/teaser").answer().await;
    expect_error(response, 404, "not_found").await;
    let response = server.get("/v1/canvases/teaser/versions").answer().await;
    expect_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn the_demo_canvas_is_there_at_first_start() {
    let server = Server::start();
    let (status, doc) = json(
        server
            .get("/v1/canvases/the-last-lighthouse")
            .answer()
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        doc["nodes"].as_array().is_some_and(|n| n.len() > 40),
        "{doc}"
    );
}

#[tokio::test]
async fn a_stale_or_missing_if_match_changes_nothing() {
    let server = Server::start();
    create(&server, "film", "Film").await;
    let patch = |revision: Option<&str>, id: &str| {
        let request = server
            .patch("/v1/canvases/film")
            .json(&json!({"ops": [add_shot(id)]}));
        match revision {
            Some(revision) => request.header("if-match", revision),
            None => request,
        }
    };
    assert_eq!(patch(Some("0"), "s1").answer().await.status(), 200);
    let error = expect_error(patch(Some("0"), "s2").answer().await, 409, "conflict").await;
    assert_eq!(
        (
            error["details"]["expected"].as_u64(),
            error["details"]["current"].as_u64()
        ),
        (Some(0), Some(1)),
        "{error}"
    );
    expect_error(
        patch(None, "s2").answer().await,
        428,
        "precondition_required",
    )
    .await;
    expect_error(
        patch(Some("one"), "s2").answer().await,
        400,
        "invalid_request",
    )
    .await;
    let stale_put = server
        .put("/v1/canvases/film")
        .header("if-match", "0")
        .json(&json!({"format": "reelgraph.canvas", "format_version": 1, "id": "film", "name": "Other"}))
        .answer().await;
    expect_error(stale_put, 409, "conflict").await;
    let (_, doc) = json(server.get("/v1/canvases/film").answer().await).await;
    assert_eq!(
        (doc["revision"].as_u64(), doc["name"].as_str()),
        (Some(1), Some("Film"))
    );
    assert_eq!(doc["nodes"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_failing_op_applies_nothing_and_says_which() {
    let server = Server::start();
    create(&server, "film", "Film").await;
    let ops = json!({"ops": [
        add_shot("s1"),
        {"op": "connect", "source": {"node": "s1", "port": "shot"}, "target": {"node": "nope", "port": "shot"}},
    ]});
    let response = server
        .patch("/v1/canvases/film")
        .header("if-match", "0")
        .json(&ops)
        .answer()
        .await;
    let error = expect_error(response, 422, "unknown_node").await;
    assert_eq!(error["details"]["op_index"], 1, "{error}");
    let (_, doc) = json(server.get("/v1/canvases/film").answer().await).await;
    assert_eq!(
        (
            doc["revision"].as_u64(),
            doc["nodes"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    // The canvas still takes the next edit at revision 0.
    let response = server
        .patch("/v1/canvases/film")
        .header("if-match", "0")
        .json(&json!({"ops": [add_shot("s1")]}))
        .answer()
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_unchanged_canvas_is_not_sent_again() {
    let server = Server::start();
    create(&server, "film", "Film").await;
    let response = server.get("/v1/canvases/film").answer().await;
    let etag = response.headers()["etag"]
        .to_str()
        .expect("text")
        .to_owned();
    let response = server
        .get("/v1/canvases/film")
        .header("if-none-match", &etag)
        .answer()
        .await;
    assert_eq!(response.status(), 304);
    assert_eq!(response.headers()["etag"].to_str().expect("text"), etag);
    assert!(response.bytes().await.expect("a body").is_empty());
    server
        .patch("/v1/canvases/film")
        .header("if-match", &etag)
        .json(&json!({"ops": [add_shot("s1")]}))
        .answer()
        .await;
    let response = server
        .get("/v1/canvases/film")
        .header("if-none-match", &etag)
        .answer()
        .await;
    assert_eq!(response.status(), 200);
    assert_ne!(response.headers()["etag"].to_str().expect("text"), etag);
}

/// A canvas read compressed is the same canvas, with the headers of an
/// uncompressed read plus the coding's, and follows the canvas's edits.
#[tokio::test]
async fn a_canvas_read_compressed_reads_back_the_same() {
    use std::io::Read;

    let server = Server::start();
    create(&server, "film", "Film").await;
    for revision in 0..2 {
        let plain = server.get("/v1/canvases/film").answer().await;
        assert!(plain.headers().get("content-encoding").is_none());
        let etag = plain.headers()["etag"].clone();
        let plain = plain.bytes().await.expect("a body");
        for (accept, coding) in [
            ("gzip, deflate, br, zstd", "br"),
            ("gzip;q=1, br;q=0.5", "gzip"),
        ] {
            // Twice: the second answer comes from what the first made.
            for _ in 0..2 {
                let response = server
                    .get("/v1/canvases/film")
                    .header("accept-encoding", accept)
                    .answer()
                    .await;
                assert_eq!(response.status(), 200);
                let headers = response.headers().clone();
                assert_eq!(headers["content-encoding"], coding);
                assert_eq!(headers["vary"], "accept-encoding");
                assert_eq!(headers["etag"], etag);
                assert_eq!(headers["content-type"], "application/json");
                assert_eq!(headers["x-content-type-options"], "nosniff");
                let body = response.bytes().await.expect("a body");
                let mut decoded = Vec::new();
                match coding {
                    "br" => brotli::Decompressor::new(&body[..], 4096).read_to_end(&mut decoded),
                    _ => flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut decoded),
                }
                .expect("a compressed body");
                assert_eq!(decoded, plain, "{coding} at revision {revision}");
            }
        }
        let response = server
            .patch("/v1/canvases/film")
            .header("if-match", revision.to_string())
            .json(&json!({"ops": [add_shot(&format!("s{revision}"))]}))
            .answer()
            .await;
        assert_eq!(response.status(), 200);
    }
    // A coding the server does not make, or none wanted: the plain bytes.
    let response = server
        .get("/v1/canvases/film")
        .header("accept-encoding", "zstd, br;q=0")
        .answer()
        .await;
    assert!(response.headers().get("content-encoding").is_none());
    let (_, doc) = json(response).await;
    assert_eq!(doc["revision"], 2);
}

/// Two canvases made again under one id never share an ETag.
#[tokio::test]
async fn a_canvas_made_again_gets_another_etag() {
    let server = Server::start();
    create(&server, "film", "Film").await;
    let first = server.get("/v1/canvases/film").answer().await.headers()["etag"].clone();
    assert_eq!(
        server.delete("/v1/canvases/film").answer().await.status(),
        204
    );
    create(&server, "film", "Another film").await;
    let second = server.get("/v1/canvases/film").answer().await.headers()["etag"].clone();
    assert_ne!(first, second);
}

#[tokio::test]
async fn canvases_are_listed_a_page_at_a_time() {
    let server = Server::start();
    for i in 0..7 {
        create(
            &server,
            &format!("c{i}"),
            if i % 2 == 0 { "Even" } else { "Odd" },
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/canvases?limit=3".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = server.get(&path).json_answer().await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|i| i["id"].as_str().expect("an id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    // The demo canvas and the seven, in id order, each once.
    let mut expected: Vec<String> = (0..7).map(|i| format!("c{i}")).collect();
    expected.push("the-last-lighthouse".into());
    assert_eq!(seen, expected);

    let (_, odd) = json(server.get("/v1/canvases?name=Od").answer().await).await;
    let ids: Vec<&str> = odd["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(ids, ["c1", "c3", "c5"]);
}

#[tokio::test]
async fn bad_page_requests_are_refused() {
    let server = Server::start();
    create(&server, "film", "Film").await;
    for limit in ["0", "-1", "201", "1000000000000000000000000", "ten"] {
        let response = server
            .get(&format!("/v1/canvases?limit={limit}"))
            .answer()
            .await;
        let error = expect_error(response, 422, "invalid_field").await;
        assert_eq!(error["details"]["field"], "limit", "{error}");
    }
    // Not cursors at all, and one of the other list ("c" + hex of "film").
    for cursor in [
        "nonsense",
        "c4",
        "x31",
        "..%2F..%2Fetc",
        "v%FF",
        "c66696c6d",
    ] {
        if !cursor.starts_with('c') || cursor == "c4" {
            let response = server
                .get(&format!("/v1/canvases?cursor={cursor}"))
                .answer()
                .await;
            expect_error(response, 400, "invalid_cursor").await;
        }
        let response = server
            .get(&format!("/v1/canvases/film/versions?cursor={cursor}"))
            .answer()
            .await;
        expect_error(response, 400, "invalid_cursor").await;
    }
    let response = server
        .get("/v1/canvases/film/versions?limit=500")
        .answer()
        .await;
    expect_error(response, 422, "invalid_field").await;
    let response = server.get("/v1/canvases?page=2").answer().await;
    let error = expect_error(response, 422, "unknown_field").await;
    assert_eq!(error["details"]["field"], "page");
}

#[tokio::test]
async fn ids_that_do_not_exist_or_climb_out_are_not_found() {
    let server = Server::start();
    // (A literal `..` never reaches the server: clients resolve it in the URL.)
    for id in [
        "nope",
        "..%2F..%2Fetc%2Fpasswd",
        "..%5C..%5Cwindows",
        "a%00b",
        "%20padded%20",
    ] {
        let response = server.get(&format!("/v1/canvases/{id}")).answer().await;
        expect_error(response, 404, "not_found").await;
        let response = server
            .patch(&format!("/v1/canvases/{id}"))
            .header("if-match", "0")
            .json(&json!({"ops": []}))
            .answer()
            .await;
        expect_error(response, 404, "not_found").await;
        let response = server.delete(&format!("/v1/canvases/{id}")).answer().await;
        expect_error(response, 404, "not_found").await;
    }
    let response = server
        .get("/v1/canvases/the-last-lighthouse/versions/99")
        .answer()
        .await;
    expect_error(response, 404, "not_found").await;
    let response = server
        .get("/v1/canvases/the-last-lighthouse/versions/-1")
        .answer()
        .await;
    expect_error(response, 404, "not_found").await;
    let response = server
        .post("/v1/canvases")
        .json(&json!({"id": " padded", "name": "x"}))
        .answer()
        .await;
    expect_error(response, 422, "invalid_id").await;
    create(&server, "film", "Film").await;
    let response = server
        .post("/v1/canvases")
        .json(&json!({"id": "film", "name": "x"}))
        .answer()
        .await;
    expect_error(response, 409, "duplicate_id").await;
}

#[tokio::test]
async fn bodies_are_read_strictly() {
    let server = Server::start();
    let send = |content_type: &str, body: &str| {
        server
            .post("/v1/canvases")
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
    };
    expect_error(
        send("application/json", r#"{"name": "Film""#)
            .await
            .expect("an answer"),
        400,
        "invalid_json",
    )
    .await;
    expect_error(
        send("application/json", "").await.expect("an answer"),
        400,
        "invalid_json",
    )
    .await;
    expect_error(
        send("text/plain", r#"{"name": "Film"}"#)
            .await
            .expect("an answer"),
        415,
        "unsupported_media_type",
    )
    .await;
    let error = expect_error(
        send("application/json", r#"{"name": "Film", "colour": "red"}"#)
            .await
            .expect("an answer"),
        422,
        "unknown_field",
    )
    .await;
    assert_eq!(error["details"]["field"], "colour");
    let error = expect_error(
        send("application/json", r#"{"name": 7}"#)
            .await
            .expect("an answer"),
        422,
        "invalid_body",
    )
    .await;
    assert_eq!(error["details"]["path"], "name");
    // An unknown field inside an op is named with where it is.
    create(&server, "film", "Film").await;
    let response = server
        .patch("/v1/canvases/film")
        .header("if-match", "0")
        .json(&json!({"ops": [{"op": "add_node", "id": "s1", "type": "shot", "colour": 1}]}))
        .answer()
        .await;
    let error = expect_error(response, 422, "unknown_field").await;
    assert_eq!(error["details"]["field"], "colour", "{error}");
}

/// PATCHes of one canvas from many clients at once: each success is one
/// revision, so none was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_lose_no_update() {
    let server = Server::start();
    create(&server, "film", "Film").await;
    let mut tasks = Vec::new();
    for client in 0..8 {
        let request = server.patch("/v1/canvases/film");
        let get = server.get("/v1/canvases/film");
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            for i in 0..10 {
                // Read the current revision, then edit on it; retry on conflict.
                loop {
                    let (_, doc) = json(get.try_clone().expect("cloneable").answer().await).await;
                    let revision = doc["revision"].as_u64().expect("a revision");
                    let response = request
                        .try_clone()
                        .expect("cloneable")
                        .header("if-match", revision.to_string())
                        .json(&json!({"ops": [add_shot(&format!("s{client}_{i}"))]}))
                        .answer()
                        .await;
                    match response.status().as_u16() {
                        200 => break,
                        409 => continue,
                        other => panic!("{other}: {}", response.text().await.unwrap_or_default()),
                    }
                }
                done += 1;
            }
            done
        }));
    }
    let mut successes = 0;
    for task in tasks {
        successes += task.await.expect("the client finished");
    }
    let (_, doc) = json(server.get("/v1/canvases/film").answer().await).await;
    assert_eq!(doc["revision"].as_u64(), Some(successes));
    assert_eq!(doc["nodes"].as_array().map(Vec::len), Some(80));
}

#[tokio::test]
async fn every_canvas_is_there_after_a_restart() {
    survives_a_kill(&[]).await;
}

/// Without an fsync per save, a killed process still loses nothing (only a
/// power cut could).
#[tokio::test]
async fn every_canvas_is_there_after_a_kill_without_fsyncs() {
    survives_a_kill(&["--durability", "process-crash"]).await;
}

/// Edits, a SIGKILL, a start on the same data: every canvas at its last
/// acknowledged revision, and the admin key still valid.
async fn survives_a_kill(args: &[&str]) {
    let mut server = Server::start_with(args);
    for i in 0..3 {
        create(&server, &format!("c{i}"), "Film").await;
        server
            .patch(&format!("/v1/canvases/c{i}"))
            .header("if-match", "0")
            .json(&json!({"ops": [add_shot("s1")]}))
            .answer()
            .await;
    }
    server.restart_with(args);
    let (_, page) = server.get("/v1/canvases").json_answer().await;
    let listed: Vec<(&str, u64)> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["id"].as_str().expect("an id"),
                i["revision"].as_u64().expect("a revision"),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("c0", 1), ("c1", 1), ("c2", 1), ("the-last-lighthouse", 1)]
    );
    let (_, doc) = json(server.get("/v1/canvases/c2").answer().await).await;
    assert_eq!(doc["nodes"][0]["id"], "s1");
    // The old key still works: it was printed once and kept as a hash.
    assert_eq!(server.get("/v1/canvases/c0").answer().await.status(), 200);
}

/// Edits saved as deltas (past a snapshot), many canvases at once, then a
/// SIGKILL right after the last answer: after a start on the same data,
/// every acknowledged edit is there, old versions read back, and editing
/// goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_are_all_there_after_a_kill_right_after_their_answers() {
    const EDITS: u64 = 110;
    let mut server = Server::start();
    let server_ref = &server;
    let edits = (0..4).map(|c| async move {
        let id = format!("k{c}");
        create(server_ref, &id, "Kill").await;
        let path = format!("/v1/canvases/{id}");
        let response = server_ref
            .patch(&path)
            .header("if-match", "0")
            .json(&json!({"ops": [add_shot("s0"), add_shot("s1")]}))
            .answer()
            .await;
        assert_eq!(response.status(), 200);
        for n in 1..=EDITS {
            let response = server_ref
                .patch(&path)
                .header("if-match", n.to_string())
                .json(
                    &json!({"ops": [{"op": "move_node", "id": format!("s{}", n % 2),
                    "position": {"x": n, "y": c}}]}),
                )
                .answer()
                .await;
            assert_eq!(response.status(), 200, "edit {n} of {id}");
        }
    });
    futures_util::future::join_all(edits).await;
    server.restart();
    for c in 0..4 {
        let path = format!("/v1/canvases/k{c}");
        let (status, doc) = server.get(&path).json_answer().await;
        assert_eq!(status, 200);
        assert_eq!(doc["revision"].as_u64(), Some(EDITS + 1), "k{c}");
        assert_eq!(
            doc["nodes"][0]["position"],
            json!({"x": 110.0, "y": f64::from(c)})
        );
        assert_eq!(
            doc["nodes"][1]["position"],
            json!({"x": 109.0, "y": f64::from(c)})
        );
        let (status, old) = json(server.get(&format!("{path}/versions/51")).answer().await).await;
        assert_eq!(status, 200);
        assert_eq!(old["nodes"][0]["position"]["x"], 50.0);
        let response = server
            .patch(&path)
            .header("if-match", (EDITS + 1).to_string())
            .json(&json!({"ops": [add_shot("s2")]}))
            .answer()
            .await;
        assert_eq!(response.status(), 200);
        let (_, doc) = server.get(&path).json_answer().await;
        assert_eq!(doc["nodes"].as_array().map(Vec::len), Some(3));
    }
}
