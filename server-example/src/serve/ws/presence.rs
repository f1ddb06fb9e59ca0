//! Who is on a canvas: every connection subscribed to it, by connection id
//! and key name. Comings and goings collect during the batch window; at its
//! end each connection on the canvas gets one `presence` message: a
//! newcomer the whole list (itself included), the others the joins and
//! leaves of the window. One message per window, not one per join: a
//! canvas that a thousand connections open at once costs a message per
//! connection and window rather than one per pair. Only the first
//! [`ANNOUNCED`] connections of a canvas are announced: the newcomers'
//! list grows with them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::client::Client;
use super::messages::{PresenceEntry, ServerMessage};
use crate::serve::encoded::{Encoded, Outgoing};

/// The most connections on one canvas whose comings and goings are sent.
pub const ANNOUNCED: usize = 1024;

#[derive(Debug, Default)]
pub struct Presence {
    canvases: Mutex<Canvases>,
}

#[derive(Debug, Default)]
struct Canvases {
    by_id: HashMap<String, Members>,
    /// Canvases with joins or leaves in this window.
    changed: Vec<String>,
}

/// A canvas's connections, and the changes of this window.
#[derive(Debug, Default)]
struct Members {
    here: HashMap<String, Member>,
    /// Announced connections that came in this window and are still here.
    joined: Vec<String>,
    /// Connections announced before this window that left in it.
    left: Vec<String>,
}

#[derive(Debug)]
struct Member {
    client: Weak<Client>,
    key: String,
}

impl Presence {
    /// `client` is on `canvas` now; announced at the end of the window.
    pub fn join(&self, canvas: &str, client: &Arc<Client>) {
        let mut canvases = self.canvases.lock().unwrap_or_else(PoisonError::into_inner);
        let Canvases { by_id, changed } = &mut *canvases;
        let members = by_id.entry(canvas.to_owned()).or_default();
        if members.here.contains_key(&client.id) {
            return;
        }
        let announce = members.here.len() < ANNOUNCED;
        let member = Member {
            client: Arc::downgrade(client),
            key: client.principal.name.clone(),
        };
        members.here.insert(client.id.clone(), member);
        if announce {
            members.joined.push(client.id.clone());
            if !changed.iter().any(|c| c == canvas) {
                changed.push(canvas.to_owned());
            }
            drop(canvases);
            client.shared.window.open();
        }
    }

    /// `client` left `canvas` (every connection leaves each canvas it
    /// followed when it closes).
    pub fn leave(&self, canvas: &str, client: &Client) {
        let mut canvases = self.canvases.lock().unwrap_or_else(PoisonError::into_inner);
        let Canvases { by_id, changed } = &mut *canvases;
        let Some(members) = by_id.get_mut(canvas) else {
            return;
        };
        if members.here.remove(&client.id).is_none() {
            return;
        }
        if members.here.is_empty() {
            by_id.remove(canvas);
            return;
        }
        if let Some(i) = members.joined.iter().position(|id| *id == client.id) {
            // Came and went within the window: nobody was told.
            members.joined.swap_remove(i);
            return;
        }
        if members.here.len() >= ANNOUNCED {
            return;
        }
        members.left.push(client.id.clone());
        if !changed.iter().any(|c| c == canvas) {
            changed.push(canvas.to_owned());
        }
        drop(canvases);
        client.shared.window.open();
    }

    /// Whether joins or leaves wait for the end of the window.
    pub fn has_changes(&self) -> bool {
        !self
            .canvases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .changed
            .is_empty()
    }

    /// At the end of the window: one message to each connection of every
    /// canvas whose presence changed in it.
    pub fn flush(&self) {
        let mut canvases = self.canvases.lock().unwrap_or_else(PoisonError::into_inner);
        let Canvases { by_id, changed } = &mut *canvases;
        for canvas in std::mem::take(changed) {
            let Some(members) = by_id.get_mut(&canvas) else {
                continue;
            };
            let joined: HashSet<String> = std::mem::take(&mut members.joined).into_iter().collect();
            let left = std::mem::take(&mut members.left);
            if joined.is_empty() && left.is_empty() {
                continue;
            }
            let entries = |ids: &mut dyn Iterator<Item = &String>| -> Vec<PresenceEntry> {
                ids.filter_map(|id| {
                    members.here.get(id).map(|m| PresenceEntry {
                        connection: id.clone(),
                        key: m.key.clone(),
                    })
                })
                .take(ANNOUNCED)
                .collect()
            };
            let news = item(ServerMessage::Presence {
                canvas: canvas.clone(),
                joined: entries(&mut joined.iter()),
                left,
            });
            let everyone = (!joined.is_empty()).then(|| {
                item(ServerMessage::Presence {
                    canvas: canvas.clone(),
                    joined: entries(&mut members.here.keys()),
                    left: Vec::new(),
                })
            });
            for (id, member) in &members.here {
                let Some(client) = member.client.upgrade() else {
                    continue;
                };
                match &everyone {
                    Some(everyone) if joined.contains(id) => client.push(everyone.clone()),
                    _ => client.push(news.clone()),
                };
            }
        }
    }
}

fn item(message: ServerMessage) -> Arc<dyn Outgoing> {
    Arc::new(Encoded::new(message))
}
