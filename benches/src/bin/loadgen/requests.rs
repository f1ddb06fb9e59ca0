//! The request scenarios (`read`, `edit`, `mixed`): keep-alive HTTP users
//! in a loop (`scenario.rs`), latency per kind of request, lost updates.

use std::time::{Duration, Instant};

use crate::scenario::{self, Scenario, Tallies};
use crate::stats::{self, Summary};
use crate::{Load, mib};

/// Runs `scenario`; `Ok(false)` when a request failed or an update was lost.
pub async fn run(load: &Load<'_>, scenario: Scenario) -> Result<bool, String> {
    let (addr, key) = (load.addr, &load.key);
    scenario::prepare(addr, key, scenario).await?;

    // Every user makes its own canvas before the clock starts.
    let start = Instant::now() + Duration::from_secs(2);
    let deadline = start + load.duration();
    let users: Vec<_> = (0..load.clients)
        .map(|user| {
            tokio::spawn(scenario::user(
                scenario,
                user,
                addr,
                key.clone(),
                load.accept_encoding.clone(),
                start,
                deadline,
            ))
        })
        .collect();
    let mut peak_rss = 0;
    while Instant::now() < deadline {
        peak_rss = peak_rss.max(load.server_rss().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut tallies = Tallies::default();
    for user in users {
        tallies.merge(user.await.map_err(|e| e.to_string())??);
    }
    let elapsed = load.duration();

    println!("{scenario:?}: {} clients, {} s", load.clients, load.seconds);
    println!("{}", Summary::HEADER);
    let mut clean = tallies.lost_updates == 0;
    let mut all = stats::Tally::default();
    for (name, tally) in [
        ("read", tallies.read),
        ("edit", tallies.edit),
        ("run", tallies.run),
    ] {
        all.merge(tally.clone());
        let summary = tally.summary(elapsed);
        if summary.requests > 0 {
            println!("{name:<8} {summary}");
            if let Some(e) = &summary.first_error {
                println!("         first error: {e}");
            }
        }
        clean &= summary.errors == 0;
    }
    println!("{:<8} {}", "all", all.summary(elapsed));
    println!("lost updates: {}", tallies.lost_updates);
    if load.server.is_some() {
        println!(
            "server RSS: peak under load {:.1} MiB (sampled every 250 ms)",
            mib(peak_rss)
        );
    }
    Ok(clean)
}
