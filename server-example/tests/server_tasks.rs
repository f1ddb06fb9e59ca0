//! The function-runner service over HTTP, against the real server process:
//! submit, claim, heartbeat, progress, complete and fail; leases that
//! expire; dead letters; cancels; idempotency and priorities; task events
//! as SSE; a restart; and the bad input the issue names.

mod support;

use serde_json::{Value, json};
use support::{Server, expect_error, json};

const FUNCTION: &str = "image.generate";

async fn submit(server: &Server, body: Value) -> Value {
    let (status, task) = json(
        server
            .post("/v1/tasks")
            .json(&body)
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!(status, 201, "{task}");
    task
}

async fn claim(server: &Server, body: Value) -> Vec<Value> {
    let (status, claimed) = json(
        server
            .post("/v1/workers/claim")
            .json(&body)
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!(status, 200, "{claimed}");
    claimed["tasks"].as_array().expect("tasks").clone()
}

async fn lease_call(server: &Server, lease: &str, action: &str, body: Value) -> reqwest::Response {
    server
        .post(&format!("/v1/workers/leases/{lease}/{action}"))
        .json(&body)
        .send()
        .await
        .expect("an answer")
}

#[tokio::test]
async fn a_task_goes_from_submit_to_claim_to_completion() {
    let server = Server::start();
    let task = submit(
        &server,
        json!({"function": FUNCTION, "params": {"prompt": "a lighthouse"}, "outputs": ["image"]}),
    )
    .await;
    assert_eq!(task["state"], "queued");
    let id = task["id"].as_str().expect("an id");
    assert!(id.starts_with("tk_"), "{id}");

    let leased = claim(&server, json!({"worker": "w1", "functions": [FUNCTION]})).await;
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0]["task_id"], id);
    assert_eq!(leased[0]["params"]["prompt"], "a lighthouse");
    let lease = leased[0]["lease"].as_str().expect("a lease");

    let (status, state) = json(lease_call(&server, lease, "heartbeat", json!({})).await).await;
    assert_eq!((status, &state["cancel"]), (200, &json!(false)), "{state}");
    let (status, _) = json(
        lease_call(
            &server,
            lease,
            "progress",
            json!({"progress": 0.5, "message": "half"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let (status, done) = json(
        lease_call(
            &server,
            lease,
            "complete",
            json!({"outputs": {"image": "a.png"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["state"], "completed");
    assert_eq!(done["outputs"]["image"], "a.png");
    assert_eq!(done["attempts"][0]["outcome"], "completed");
    assert_eq!(done["attempts"][0]["worker"], "w1");

    let (status, read) = json(
        server
            .get(&format!("/v1/tasks/{id}"))
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!((status, read), (200, done));

    // Completing twice is refused, and the task is never leased again.
    expect_error(
        lease_call(
            &server,
            lease,
            "complete",
            json!({"outputs": {"image": "a.png"}}),
        )
        .await,
        409,
        "task_finished",
    )
    .await;
    let again = claim(&server, json!({"worker": "w2", "functions": [FUNCTION]})).await;
    assert!(again.is_empty(), "{again:?}");
}
