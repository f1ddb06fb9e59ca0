//! Autosave timing, with tokio's paused clock: no sleeps, no flakiness.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reelgraph::store::{
    AutosaveEvent, AutosaveOptions, Autosaver, CanvasStore, MemoryStore, autosave,
};
use reelgraph::{Canvas, Catalog, Op};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

struct Rig {
    store: Arc<MemoryStore>,
    canvas: Arc<Mutex<Canvas>>,
    saver: Autosaver,
    task: JoinHandle<()>,
    events: UnboundedReceiver<AutosaveEvent>,
    edits: usize,
}

async fn rig() -> Rig {
    let store = Arc::new(MemoryStore::new());
    let canvas = Canvas::new(Catalog::builtin(), "auto", "Autosaved");
    store.create(&canvas.to_document()).await.expect("create");
    let canvas = Arc::new(Mutex::new(canvas));
    let (saver, task, events) =
        autosave(canvas.clone(), store.clone(), 0, AutosaveOptions::default());
    Rig {
        store,
        canvas,
        saver,
        task: tokio::spawn(task),
        events,
        edits: 0,
    }
}

impl Rig {
    fn edit(&mut self) {
        self.edits += 1;
        let op = Op::add_node(
            &format!("s{}", self.edits),
            "shot",
            json!({"number": self.edits}),
        );
        self.canvas
            .lock()
            .expect("lock")
            .apply(vec![op])
            .expect("apply");
        self.saver.touch();
    }

    async fn stored_revision(&self) -> u64 {
        self.store.get("auto").await.expect("get").revision
    }

    async fn saves(&self) -> usize {
        self.store.history("auto").await.expect("history").len() - 1
    }
}

/// Lets the saver task run everything that is due, then moves the clock.
async fn advance(by: Duration) {
    tokio::time::advance(by).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn saves_after_the_quiet_period() {
    let mut r = rig().await;
    r.edit();
    advance(Duration::from_millis(1_900)).await;
    assert_eq!(r.stored_revision().await, 0, "not before 2 s of quiet");
    advance(Duration::from_millis(200)).await;
    assert_eq!(r.stored_revision().await, 1);
    let event = r.events.recv().await.expect("an event");
    assert!(
        matches!(&event, AutosaveEvent::Saved { canvas_id, seq: 0, revision: 1, .. } if canvas_id == "auto"),
        "{event:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_edit_restarts_the_quiet_period() {
    let mut r = rig().await;
    r.edit();
    advance(Duration::from_millis(1_500)).await;
    r.edit();
    advance(Duration::from_millis(1_500)).await;
    assert_eq!(r.saves().await, 0, "the second edit pushed the save back");
    advance(Duration::from_millis(600)).await;
    assert_eq!(r.stored_revision().await, 2);
    assert_eq!(r.saves().await, 1, "one save for both edits");
}

#[tokio::test(start_paused = true)]
async fn saves_at_least_every_ten_seconds_while_edits_keep_coming() {
    let mut r = rig().await;
    // An edit every second for 25 s: never 2 s of quiet.
    for _ in 0..25 {
        r.edit();
        advance(Duration::from_secs(1)).await;
    }
    assert_eq!(r.saves().await, 2, "saved at 10 s and at 20 s");
    assert!(r.stored_revision().await >= 20);
    advance(Duration::from_secs(3)).await;
    assert_eq!(
        r.stored_revision().await,
        25,
        "the tail is saved after the quiet period"
    );
}

#[tokio::test(start_paused = true)]
async fn never_saves_a_clean_canvas() {
    let mut r = rig().await;
    r.saver.touch();
    advance(Duration::from_secs(30)).await;
    r.saver.close();
    (&mut r.task).await.expect("task ends");
    assert_eq!(r.saves().await, 0);
}

#[tokio::test(start_paused = true)]
async fn close_flushes_pending_changes() {
    let mut r = rig().await;
    r.edit();
    r.edit();
    r.saver.close();
    (&mut r.task).await.expect("task ends");
    assert_eq!(
        r.stored_revision().await,
        2,
        "saved on close, before the quiet period"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_flushes_too() {
    let mut r = rig().await;
    r.edit();
    let Rig {
        saver, task, store, ..
    } = r;
    drop(saver);
    task.await.expect("task ends");
    assert_eq!(store.get("auto").await.expect("get").revision, 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_is_not_needed_for_close() {
    let mut r = rig().await;
    r.edit();
    r.saver.close();
    (&mut r.task).await.expect("task ends");
    assert_eq!(r.stored_revision().await, 1);
}

#[tokio::test(start_paused = true)]
async fn a_conflict_is_reported_not_overwritten() {
    let mut r = rig().await;
    // Another writer saves revision 5 first.
    let mut theirs = r.store.get("auto").await.expect("get");
    theirs.revision = 5;
    theirs.name = "Their version".into();
    r.store.save(&theirs, 0).await.expect("their save");

    r.edit();
    advance(Duration::from_secs(3)).await;
    let event = r.events.recv().await.expect("an event");
    assert!(
        matches!(&event, AutosaveEvent::Conflict { canvas_id, seq: 0, expected: 0, current: 5, .. } if canvas_id == "auto"),
        "{event:?}"
    );
    let stored = r.store.get("auto").await.expect("get");
    assert_eq!(
        stored.name, "Their version",
        "their save was not overwritten"
    );

    // Further edits do not retry blindly...
    r.edit();
    advance(Duration::from_secs(15)).await;
    assert_eq!(r.stored_revision().await, 5);

    // ...until the canvas is rebased on their revision.
    let doc = r.store.get("auto").await.expect("get");
    let mut rebased = Canvas::from_document(Catalog::builtin(), doc).expect("reload");
    rebased
        .apply(vec![Op::add_node("mine", "shot", json!({"number": 99}))])
        .expect("re-apply");
    *r.canvas.lock().expect("lock") = rebased;
    r.saver.rebased(5);
    advance(Duration::from_secs(3)).await;
    assert_eq!(r.stored_revision().await, 6);
    assert!(
        r.store
            .get("auto")
            .await
            .expect("get")
            .nodes
            .iter()
            .any(|n| n.id == "mine")
    );
}
