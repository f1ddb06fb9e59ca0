//! The function-runner service over HTTP, against the real server process:
//! submit, claim, heartbeat, progress, complete and fail; leases that
//! expire; dead letters; cancels; idempotency and priorities; task events
//! as SSE; a restart; and the bad input the issue names.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::sse::{Sse, read_events};
use support::{Answer, Server, expect_error, json};

const FUNCTION: &str = "image.generate";

async fn submit(server: &Server, body: Value) -> Value {
    let (status, task) = json(server.post("/v1/tasks").json(&body).answer().await).await;
    assert_eq!(status, 201, "{task}");
    task
}

async fn claim(server: &Server, body: Value) -> Vec<Value> {
    let (status, claimed) = json(server.post("/v1/workers/claim").json(&body).answer().await).await;
    assert_eq!(status, 200, "{claimed}");
    claimed["tasks"].as_array().expect("tasks").clone()
}

/// A lease short enough that tests can wait for it to run out.
const SHORT_LEASE: &[&str] = &["--task-lease", "400ms"];

async fn get_task(server: &Server, id: &str) -> Value {
    let (status, task) = json(server.get(&format!("/v1/tasks/{id}")).answer().await).await;
    assert_eq!(status, 200, "{task}");
    task
}

/// Reads the task until `done` says so (the lease reaper works in the
/// background); fails after 20 s.
async fn wait_for(server: &Server, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..400 {
        let task = get_task(server, id).await;
        if done(&task) {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} never got there: {}", get_task(server, id).await);
}

async fn events(server: &Server, id: &str, last_seen: Option<u64>) -> reqwest::Response {
    let mut request = server.get(&format!("/v1/tasks/{id}/events"));
    if let Some(seq) = last_seen {
        request = request.header("Last-Event-ID", seq.to_string());
    }
    let response = request.answer().await;
    assert_eq!(response.status(), 200);
    response
}

fn ends_task(event: &Sse) -> bool {
    matches!(
        event.event.as_str(),
        "task_completed" | "task_failed" | "task_cancelled" | "task_dead"
    )
}

fn kinds(events: &[Sse]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

async fn lease_call(server: &Server, lease: &str, action: &str, body: Value) -> reqwest::Response {
    server
        .post(&format!("/v1/workers/leases/{lease}/{action}"))
        .json(&body)
        .answer()
        .await
}

/// A lease call's status and JSON body.
async fn lease_json(server: &Server, lease: &str, action: &str, body: Value) -> (u16, Value) {
    json(lease_call(server, lease, action, body).await).await
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

    let (status, state) = lease_json(&server, lease, "heartbeat", json!({})).await;
    assert_eq!((status, &state["cancel"]), (200, &json!(false)), "{state}");
    let (status, _) = lease_json(
        &server,
        lease,
        "progress",
        json!({"progress": 0.5, "message": "half"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, done) = lease_json(
        &server,
        lease,
        "complete",
        json!({"outputs": {"image": "a.png"}}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["state"], "completed");
    assert_eq!(done["outputs"]["image"], "a.png");
    assert_eq!(done["attempts"][0]["outcome"], "completed");
    assert_eq!(done["attempts"][0]["worker"], "w1");

    let (status, read) = json(server.get(&format!("/v1/tasks/{id}")).answer().await).await;
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

#[tokio::test]
async fn the_highest_priority_goes_first_then_the_oldest() {
    let server = Server::start();
    let mut ids = Vec::new();
    for (name, priority) in [("low", 0), ("high", 10), ("mid", 5), ("high2", 10)] {
        let task = submit(
            &server,
            json!({"function": FUNCTION, "priority": priority, "params": {"name": name}}),
        )
        .await;
        ids.push(task["id"].clone());
    }
    let leased = claim(
        &server,
        json!({"worker": "w1", "functions": [FUNCTION, "audio.tts"], "max_tasks": 3}),
    )
    .await;
    let names: Vec<&Value> = leased.iter().map(|t| &t["params"]["name"]).collect();
    assert_eq!(names, [&json!("high"), &json!("high2"), &json!("mid")]);
    let rest = claim(
        &server,
        json!({"worker": "w1", "functions": [FUNCTION], "max_tasks": 5}),
    )
    .await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["task_id"], ids[0]);
    // Another function's worker gets none of them.
    let submitted = submit(&server, json!({"function": "audio.tts"})).await;
    let other = claim(
        &server,
        json!({"worker": "w2", "functions": ["audio.tts"], "max_tasks": 64}),
    )
    .await;
    assert_eq!(other.len(), 1);
    assert_eq!(other[0]["task_id"], submitted["id"]);
}

#[tokio::test]
async fn an_idempotency_key_answers_its_queued_or_completed_task() {
    let server = Server::start();
    let body = json!({"function": FUNCTION, "idempotency_key": "node-key-1"});
    let first = submit(&server, body.clone()).await;
    let (status, again) = json(server.post("/v1/tasks").json(&body).answer().await).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "{again}");

    let leased = claim(&server, json!({"worker": "w1", "functions": [FUNCTION]})).await;
    let lease = leased[0]["lease"].as_str().expect("a lease");
    let (status, _) = lease_json(
        &server,
        lease,
        "complete",
        json!({"outputs": {"image": "x.png"}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, done) = json(server.post("/v1/tasks").json(&body).answer().await).await;
    assert_eq!(
        (status, &done["id"], &done["state"]),
        (200, &first["id"], &json!("completed"))
    );

    let error = expect_error(
        server
            .post("/v1/tasks")
            .json(&json!({"function": "audio.tts", "idempotency_key": "node-key-1"}))
            .answer()
            .await,
        409,
        "idempotency_conflict",
    )
    .await;
    assert_eq!(error["details"]["task_id"], first["id"]);
}

/// Submits `body` and says whether the answer is a new task (201) or the
/// task its key names (200).
async fn submit_keyed(server: &Server, body: &Value) -> (u16, Value) {
    json(server.post("/v1/tasks").json(body).answer().await).await
}

#[tokio::test]
async fn a_task_that_ended_without_a_result_frees_its_key_for_a_new_task() {
    let server = Server::start();
    let id = |task: &Value| task["id"].as_str().expect("an id").to_owned();

    // Failed: a permanent error ends it.
    let body = json!({"function": FUNCTION, "idempotency_key": "failed-key"});
    let failed = submit(&server, body.clone()).await;
    let leased = claim(&server, json!({"worker": "w1", "functions": [FUNCTION]})).await;
    // Leased, the key still answers the task.
    let (status, again) = submit_keyed(&server, &body).await;
    assert_eq!((status, &again["id"]), (200, &failed["id"]), "{again}");
    let lease = leased[0]["lease"].as_str().expect("a lease");
    let (status, ended) = lease_json(
        &server,
        lease,
        "fail",
        json!({"error": {"kind": "permanent", "message": "bad model"}}),
    )
    .await;
    assert_eq!((status, &ended["state"]), (200, &json!("failed")));
    let (status, anew) = submit_keyed(&server, &body).await;
    assert_eq!((status, &anew["state"]), (201, &json!("queued")), "{anew}");
    assert_ne!(anew["id"], failed["id"]);
    // The new task holds the key now; the old one keeps its record.
    let (status, same) = submit_keyed(&server, &body).await;
    assert_eq!((status, &same["id"]), (200, &anew["id"]), "{same}");
    assert_eq!(get_task(&server, &id(&failed)).await["state"], "failed");

    // Cancelled.
    let body = json!({"function": "audio.tts", "idempotency_key": "cancelled-key"});
    let cancelled = submit(&server, body.clone()).await;
    let (status, _) = json(
        server
            .post(&format!("/v1/tasks/{}/cancel", id(&cancelled)))
            .answer()
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let (status, anew) = submit_keyed(&server, &body).await;
    assert_eq!(status, 201, "{anew}");
    assert_ne!(anew["id"], cancelled["id"]);

    // The key names the new task now: another function is a conflict.
    let other = json!({"function": "audio.tts", "idempotency_key": "failed-key"});
    expect_error(
        server.post("/v1/tasks").json(&other).answer().await,
        409,
        "idempotency_conflict",
    )
    .await;

    // Dead: its only attempt's lease ran out.
    let server = Server::start_with(SHORT_LEASE);
    let body =
        json!({"function": "video.generate", "idempotency_key": "dead-key", "max_attempts": 1});
    let dead = submit(&server, body.clone()).await;
    claim(
        &server,
        json!({"worker": "w2", "functions": ["video.generate"]}),
    )
    .await;
    wait_for(&server, &id(&dead), |t| t["state"] == "dead").await;
    let (status, anew) = submit_keyed(&server, &body).await;
    assert_eq!(status, 201, "{anew}");
    assert_ne!(anew["id"], dead["id"]);
}

#[tokio::test]
async fn concurrent_operations_share_commits_and_a_refusal_spares_the_others() {
    let server = Server::start();
    let submits = (0..40).map(|n| {
        let request = server
            .post("/v1/tasks")
            .json(&json!({"function": FUNCTION, "params": {"n": n}}));
        async move { request.json_answer().await }
    });
    // Refused calls in flight with the submits: a lease never made.
    let refusals = (0..20).map(|_| {
        let request = server
            .post("/v1/workers/leases/ls_unknown/complete")
            .json(&json!({"outputs": {}}));
        async move { request.answer().await.status().as_u16() }
    });
    let (submitted, refused) = tokio::join!(
        futures_util::future::join_all(submits),
        futures_util::future::join_all(refusals)
    );
    assert!(refused.iter().all(|status| *status == 404), "{refused:?}");
    for (status, task) in &submitted {
        assert_eq!(*status, 201, "{task}");
    }
    let (status, listed) = json(
        server
            .get(&format!("/v1/tasks?function={FUNCTION}&limit=100"))
            .answer()
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(40));
}

#[tokio::test]
async fn a_waiting_claim_wakes_when_a_task_of_its_function_is_queued() {
    let server = Server::start();
    let waiting = {
        let request = server
            .post("/v1/workers/claim")
            .json(&json!({"worker": "w1", "functions": [FUNCTION], "wait_ms": 30000}));
        tokio::spawn(async move { request.json_answer().await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A task of another function does not answer it.
    submit(&server, json!({"function": "audio.tts"})).await;
    let task = submit(&server, json!({"function": FUNCTION})).await;
    // Far less than the 30 s the claim may wait: it woke on the submit.
    let (status, claimed) = tokio::time::timeout(Duration::from_secs(15), waiting)
        .await
        .expect("the claim answered when the task was queued")
        .expect("the claim task");
    assert_eq!(status, 200);
    assert_eq!(claimed["tasks"][0]["task_id"], task["id"]);
    assert_eq!(claimed["tasks"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn concurrent_claimers_never_get_the_same_task() {
    let server = Server::start();
    let mut submitted = BTreeSet::new();
    for _ in 0..24 {
        let task = submit(&server, json!({"function": FUNCTION})).await;
        submitted.insert(task["id"].as_str().expect("an id").to_owned());
    }
    let mut claimers = Vec::new();
    for worker in 0..4 {
        let client = server.client.clone();
        let url = server.url("/v1/workers/claim");
        let key = server.admin_key.clone();
        claimers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({"worker": format!("w{worker}"), "functions": [FUNCTION], "max_tasks": 2}))
                    .answer().await;
                let (status, claimed) = json(response).await;
                assert_eq!(status, 200, "{claimed}");
                let tasks = claimed["tasks"].as_array().expect("tasks").clone();
                if tasks.is_empty() {
                    return got;
                }
                got.extend(tasks.iter().map(|t| t["task_id"].as_str().expect("an id").to_owned()));
            }
        }));
    }
    let mut leased = Vec::new();
    for claimer in claimers {
        leased.extend(claimer.await.expect("a claimer"));
    }
    let unique: BTreeSet<String> = leased.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        leased.len(),
        "a task was leased twice: {leased:?}"
    );
    assert_eq!(unique, submitted);
}

#[tokio::test]
async fn an_expired_lease_requeues_the_task_and_its_late_calls_are_refused() {
    let server = Server::start_with(SHORT_LEASE);
    let task = submit(&server, json!({"function": FUNCTION, "outputs": ["image"]})).await;
    let id = task["id"].as_str().expect("an id");
    let first = claim(&server, json!({"worker": "slow", "functions": [FUNCTION]})).await;
    let old = first[0]["lease"].as_str().expect("a lease");
    assert_eq!(first[0]["lease_ms"], 400);

    // The worker goes quiet past its lease: the task is queued again.
    let requeued = wait_for(&server, id, |t| t["state"] == "queued").await;
    assert_eq!(requeued["attempts"][0]["outcome"], "expired");
    expect_error(
        lease_call(&server, old, "heartbeat", json!({})).await,
        409,
        "lease_expired",
    )
    .await;

    let second = claim(&server, json!({"worker": "fast", "functions": [FUNCTION]})).await;
    assert_eq!(
        (&second[0]["task_id"], &second[0]["attempt"]),
        (&json!(id), &json!(2))
    );
    let new = second[0]["lease"].as_str().expect("a lease");
    // The first worker's late result is refused; the second worker's taken.
    let error = expect_error(
        lease_call(
            &server,
            old,
            "complete",
            json!({"outputs": {"image": "late.png"}}),
        )
        .await,
        409,
        "lease_lost",
    )
    .await;
    assert_eq!(error["details"]["task_id"], id);
    expect_error(
        lease_call(&server, old, "progress", json!({"progress": 0.5})).await,
        409,
        "lease_lost",
    )
    .await;
    let (status, done) = lease_json(
        &server,
        new,
        "complete",
        json!({"outputs": {"image": "ok.png"}}),
    )
    .await;
    assert_eq!(
        (status, &done["outputs"]["image"]),
        (200, &json!("ok.png")),
        "{done}"
    );
    expect_error(
        lease_call(
            &server,
            old,
            "fail",
            json!({"error": {"kind": "transient", "message": "x"}}),
        )
        .await,
        409,
        "task_finished",
    )
    .await;
    expect_error(
        lease_call(&server, "ls_unknown", "heartbeat", json!({})).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_worker_that_claims_and_never_heartbeats_ends_in_the_dead_letters() {
    let server = Server::start_with(SHORT_LEASE);
    let task = submit(&server, json!({"function": FUNCTION, "max_attempts": 2})).await;
    let id = task["id"].as_str().expect("an id");
    for attempt in 1..=2 {
        let leased = claim(
            &server,
            json!({"worker": format!("w{attempt}"), "functions": [FUNCTION], "wait_ms": 10000}),
        )
        .await;
        assert_eq!(
            (&leased[0]["task_id"], &leased[0]["attempt"]),
            (&json!(id), &json!(attempt))
        );
    }
    let dead = wait_for(&server, id, |t| t["state"] == "dead").await;
    let history: Vec<(&Value, &Value)> = dead["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| (&a["worker"], &a["outcome"]))
        .collect();
    assert_eq!(
        history,
        [
            (&json!("w1"), &json!("expired")),
            (&json!("w2"), &json!("expired"))
        ]
    );
    assert_eq!(dead["error"]["kind"], "timeout");
    let (status, letters) = json(server.get("/v1/tasks?state=dead").answer().await).await;
    assert_eq!(status, 200);
    assert_eq!(letters["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(letters["items"][0]["id"], id);
    // A dead task is never leased again.
    assert!(
        claim(&server, json!({"worker": "w3", "functions": [FUNCTION]}))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn failures_requeue_while_retryable_and_wrong_outputs_fail_the_task() {
    let server = Server::start();
    let task = submit(&server, json!({"function": FUNCTION})).await;
    let leased = claim(&server, json!({"worker": "w1", "functions": [FUNCTION]})).await;
    let lease = leased[0]["lease"].as_str().expect("a lease");
    let (status, requeued) = lease_json(
        &server,
        lease,
        "fail",
        json!({"error": {"kind": "transient", "message": "GPU busy"}}),
    )
    .await;
    assert_eq!(
        (status, &requeued["state"]),
        (200, &json!("queued")),
        "{requeued}"
    );
    assert_eq!(requeued["attempts"][0]["error"]["message"], "GPU busy");
    let leased = claim(&server, json!({"worker": "w1", "functions": [FUNCTION]})).await;
    let lease = leased[0]["lease"].as_str().expect("a lease");
    let (_, failed) = lease_json(
        &server,
        lease,
        "fail",
        json!({"error": {"kind": "permanent", "message": "bad model"}}),
    )
    .await;
    assert_eq!(
        (&failed["id"], &failed["state"]),
        (&task["id"], &json!("failed"))
    );

    let shaped = submit(
        &server,
        json!({"function": FUNCTION, "outputs": ["image", "mask"]}),
    )
    .await;
    let leased = claim(&server, json!({"worker": "w1", "functions": [FUNCTION]})).await;
    let lease = leased[0]["lease"].as_str().expect("a lease");
    assert_eq!(leased[0]["outputs"], json!(["image", "mask"]));
    let error = expect_error(
        lease_call(
            &server,
            lease,
            "complete",
            json!({"outputs": {"image": "a.png", "depth": "d.png"}}),
        )
        .await,
        422,
        "invalid_outputs",
    )
    .await;
    assert_eq!(error["details"]["missing"], json!(["mask"]));
    assert_eq!(error["details"]["unexpected"], json!(["depth"]));
    let ended = get_task(&server, shaped["id"].as_str().expect("an id")).await;
    assert_eq!(
        (&ended["state"], &ended["error"]["kind"]),
        (&json!("failed"), &json!("invalid_input"))
    );
}

#[tokio::test]
async fn cancels_end_queued_tasks_at_once_and_tell_the_worker_of_leased_ones() {
    let server = Server::start();
    let queued = submit(&server, json!({"function": "audio.tts"})).await;
    let id = queued["id"].as_str().expect("an id");
    let (status, cancelled) = json(
        server
            .post(&format!("/v1/tasks/{id}/cancel"))
            .answer()
            .await,
    )
    .await;
    assert_eq!((status, &cancelled["state"]), (200, &json!("cancelled")));
    assert!(
        claim(&server, json!({"worker": "w1", "functions": ["audio.tts"]}))
            .await
            .is_empty()
    );
    expect_error(
        server
            .post(&format!("/v1/tasks/{id}/cancel"))
            .answer()
            .await,
        409,
        "task_finished",
    )
    .await;

    let leased_task = submit(&server, json!({"function": FUNCTION})).await;
    let id = leased_task["id"].as_str().expect("an id");
    let leased = claim(&server, json!({"worker": "w1", "functions": [FUNCTION]})).await;
    let lease = leased[0]["lease"].as_str().expect("a lease");
    let (status, cancelled) = json(
        server
            .post(&format!("/v1/tasks/{id}/cancel"))
            .answer()
            .await,
    )
    .await;
    assert_eq!((status, &cancelled["state"]), (200, &json!("cancelled")));
    let (status, told) = lease_json(&server, lease, "heartbeat", json!({})).await;
    assert_eq!((status, &told["cancel"]), (200, &json!(true)), "{told}");
    expect_error(
        lease_call(&server, lease, "complete", json!({"outputs": {}})).await,
        409,
        "task_finished",
    )
    .await;
    let (status, acknowledged) = lease_json(
        &server,
        lease,
        "fail",
        json!({"error": {"kind": "cancelled", "message": "stopped"}}),
    )
    .await;
    assert_eq!((status, &acknowledged["state"]), (200, &json!("cancelled")));
    assert_eq!(acknowledged["attempts"][0]["outcome"], "cancelled");
    expect_error(
        server.post("/v1/tasks/tk_nope/cancel").answer().await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn task_events_come_in_order_and_resume_after_the_last_seen() {
    let server = Server::start();
    let task = submit(&server, json!({"function": FUNCTION})).await;
    let id = task["id"].as_str().expect("an id");
    let mut live = events(&server, id, None).await;
    let first = read_events(&mut live, |e| e.event == "task_queued").await;
    assert_eq!(kinds(&first), ["task_queued"]);

    let leased = claim(&server, json!({"worker": "w1", "functions": [FUNCTION]})).await;
    let lease = leased[0]["lease"].as_str().expect("a lease");
    for progress in [0.25, 0.5, 0.75] {
        let (status, _) =
            lease_json(&server, lease, "progress", json!({"progress": progress})).await;
        assert_eq!(status, 200);
    }
    let (status, _) = lease_json(
        &server,
        lease,
        "complete",
        json!({"outputs": {"image": "a.png"}}),
    )
    .await;
    assert_eq!(status, 200);

    let mut all = first;
    all.extend(read_events(&mut live, ends_task).await);
    assert_eq!(
        kinds(&all),
        [
            "task_queued",
            "task_leased",
            "task_progress",
            "task_progress",
            "task_progress",
            "task_completed"
        ]
    );
    let seqs: Vec<u64> = all.iter().map(|e| e.id).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4, 5]);
    assert!(
        all.iter()
            .all(|e| e.data["task_id"] == id && e.data["seq"] == e.id)
    );
    // The stream ended after the final event.
    assert!(live.chunk().await.expect("the end").is_none());

    let resumed = read_events(&mut events(&server, id, Some(2)).await, ends_task).await;
    let data = |events: &[Sse]| events.iter().map(|e| e.data.clone()).collect::<Vec<_>>();
    assert_eq!(data(&resumed), data(&all[3..]));
    let after = server
        .get(&format!("/v1/tasks/{id}/events?after=4"))
        .answer()
        .await;
    assert_eq!(
        kinds(&read_events(&mut { after }, ends_task).await),
        ["task_completed"]
    );
    expect_error(
        server.get("/v1/tasks/tk_nope/events").answer().await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn queued_and_leased_tasks_survive_a_restart() {
    let mut server = Server::start();
    let queued = submit(&server, json!({"function": "audio.tts"})).await;
    let leased_task = submit(&server, json!({"function": FUNCTION})).await;
    let leased = claim(&server, json!({"worker": "w1", "functions": [FUNCTION]})).await;
    let lease = leased[0]["lease"].as_str().expect("a lease").to_owned();
    let done = submit(&server, json!({"function": "video.generate"})).await;
    let claimed = claim(
        &server,
        json!({"worker": "w1", "functions": ["video.generate"]}),
    )
    .await;
    let (status, _) = lease_json(
        &server,
        claimed[0]["lease"].as_str().expect("a lease"),
        "complete",
        json!({"outputs": {}}),
    )
    .await;
    assert_eq!(status, 200);

    server.restart();

    let id = |task: &Value| task["id"].as_str().expect("an id").to_owned();
    assert_eq!(get_task(&server, &id(&queued)).await["state"], "queued");
    assert_eq!(
        get_task(&server, &id(&leased_task)).await["state"],
        "leased"
    );
    // The lease kept its end: the worker goes on where it was.
    let (status, state) = lease_json(&server, &lease, "heartbeat", json!({})).await;
    assert_eq!((status, &state["cancel"]), (200, &json!(false)), "{state}");
    let again = claim(
        &server,
        json!({"worker": "w2", "functions": ["audio.tts", FUNCTION]}),
    )
    .await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["task_id"], queued["id"]);
    // A finished task's events replay from the database, final one included.
    let replay = read_events(&mut events(&server, &id(&done), None).await, ends_task).await;
    assert_eq!(
        kinds(&replay),
        ["task_queued", "task_leased", "task_completed"]
    );
}

#[tokio::test]
async fn acknowledged_submits_and_completions_survive_a_sigkill() {
    let mut server = Server::start();
    // Concurrent, so they are committed in shared batches.
    let submits = (0..32).map(|n| {
        let request = server
            .post("/v1/tasks")
            .json(&json!({"function": FUNCTION, "params": {"n": n}}));
        async move { request.json_answer().await }
    });
    let mut ids = BTreeSet::new();
    for (status, task) in futures_util::future::join_all(submits).await {
        assert_eq!(status, 201, "{task}");
        ids.insert(task["id"].as_str().expect("an id").to_owned());
    }
    let leased = claim(
        &server,
        json!({"worker": "w1", "functions": [FUNCTION], "max_tasks": 16}),
    )
    .await;
    assert_eq!(leased.len(), 16);
    let completions = leased.iter().map(|task| {
        let lease = task["lease"].as_str().expect("a lease").to_owned();
        let server = &server;
        async move { lease_json(server, &lease, "complete", json!({"outputs": {}})).await }
    });
    for (status, done) in futures_util::future::join_all(completions).await {
        assert_eq!(status, 200, "{done}");
    }

    // SIGKILL right after the last answer: nothing flushed on the way out.
    server.restart();

    let mut completed = 0;
    for id in &ids {
        match get_task(&server, id).await["state"].as_str() {
            Some("completed") => completed += 1,
            Some("queued") => {}
            other => panic!("task {id} is {other:?}"),
        }
    }
    assert_eq!(completed, 16);
}

#[tokio::test]
async fn lists_page_and_filter_by_state_and_function() {
    let server = Server::start();
    for _ in 0..3 {
        submit(&server, json!({"function": FUNCTION})).await;
    }
    submit(&server, json!({"function": "audio.tts"})).await;
    let (status, page) = json(server.get("/v1/tasks?limit=2").answer().await).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["function"], "audio.tts", "newest first");
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, rest) = json(
        server
            .get(&format!("/v1/tasks?limit=2&cursor={cursor}"))
            .answer()
            .await,
    )
    .await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(2));
    assert!(rest["next_cursor"].is_null());
    let (_, images) = json(
        server
            .get(&format!("/v1/tasks?function={FUNCTION}&state=queued"))
            .answer()
            .await,
    )
    .await;
    assert_eq!(images["items"].as_array().map(Vec::len), Some(3));
    expect_error(
        server.get("/v1/tasks?state=sleeping").answer().await,
        422,
        "invalid_body",
    )
    .await;
    expect_error(
        server.get("/v1/tasks?cursor=zz").answer().await,
        400,
        "invalid_cursor",
    )
    .await;
    expect_error(
        server.get("/v1/tasks/tk_nope").answer().await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn bad_submissions_and_claims_are_refused_naming_the_field() {
    let server = Server::start();
    let post = |path: &str, body: Value| server.post(path).json(&body).send();
    let cases = [
        (
            "/v1/tasks",
            json!({"function": FUNCTION, "colour": 1}),
            422,
            "unknown_field",
            "colour",
        ),
        (
            "/v1/tasks",
            json!({"function": FUNCTION, "priority": 1001}),
            422,
            "invalid_field",
            "priority",
        ),
        (
            "/v1/tasks",
            json!({"function": FUNCTION, "priority": -1001}),
            422,
            "invalid_field",
            "priority",
        ),
        (
            "/v1/tasks",
            json!({"function": ""}),
            422,
            "invalid_field",
            "function",
        ),
        (
            "/v1/tasks",
            json!({"function": FUNCTION, "max_attempts": 0}),
            422,
            "invalid_field",
            "max_attempts",
        ),
        (
            "/v1/workers/claim",
            json!({"worker": "w", "functions": [FUNCTION], "max_tasks": 0}),
            422,
            "invalid_field",
            "max_tasks",
        ),
        (
            "/v1/workers/claim",
            json!({"worker": "w", "functions": [FUNCTION], "max_tasks": 65}),
            422,
            "invalid_field",
            "max_tasks",
        ),
        (
            "/v1/workers/claim",
            json!({"worker": "w", "functions": [FUNCTION], "wait_ms": 30001}),
            422,
            "invalid_field",
            "wait_ms",
        ),
        (
            "/v1/workers/claim",
            json!({"worker": "w", "functions": []}),
            422,
            "invalid_field",
            "functions",
        ),
        (
            "/v1/workers/claim",
            json!({"worker": "w", "functions": [FUNCTION], "lease": 5}),
            422,
            "unknown_field",
            "lease",
        ),
    ];
    for (path, body, status, code, field) in cases {
        let error = expect_error(
            post(path, body.clone()).await.expect("an answer"),
            status,
            code,
        )
        .await;
        assert_eq!(error["details"]["field"], field, "{body}: {error}");
    }
    let error = expect_error(
        post("/v1/workers/claim", json!({"functions": [FUNCTION]}))
            .await
            .expect("an answer"),
        422,
        "invalid_body",
    )
    .await;
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("worker")),
        "{error}"
    );
    let malformed = server
        .post("/v1/tasks")
        .header("content-type", "application/json")
        .body("{\"function\": ")
        .answer()
        .await;
    expect_error(malformed, 400, "invalid_json").await;

    // Under a live lease: a progress out of range, a heartbeat with a field.
    submit(&server, json!({"function": FUNCTION})).await;
    let leased = claim(&server, json!({"worker": "w", "functions": [FUNCTION]})).await;
    let lease = leased[0]["lease"].as_str().expect("a lease");
    let error = expect_error(
        lease_call(&server, lease, "progress", json!({"progress": 1.5})).await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(error["details"]["field"], "progress");
    let error = expect_error(
        lease_call(&server, lease, "heartbeat", json!({"busy": true})).await,
        422,
        "unknown_field",
    )
    .await;
    assert_eq!(error["details"]["field"], "busy");
    let error = expect_error(
        lease_call(
            &server,
            lease,
            "fail",
            json!({"error": {"kind": "gremlins", "message": "?"}}),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;
    assert_eq!(error["details"]["path"], "error.kind");

    // Scopes: a read key may look, not submit or claim.
    let (_, reader) = server.key("reader", &["read"]).await;
    let refused = server
        .client
        .post(server.url("/v1/workers/claim"))
        .bearer_auth(&reader)
        .json(&json!({"worker": "w", "functions": [FUNCTION]}))
        .answer()
        .await;
    expect_error(refused, 403, "forbidden").await;
}
