//! Who is on a canvas: every connection subscribed to it, by connection id
//! and key name. A newcomer is told who is there; the others are told when
//! it joins and leaves (unsubscribe or disconnect). Only while a canvas has
//! at most [`ANNOUNCED`] connections: presence is for editors working
//! together, and announcing each of thousands of viewers to all the others
//! would cost a message per pair.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::client::Client;
use super::messages::{PresenceState, ServerMessage};
use crate::serve::encoded::{Encoded, Outgoing};

/// The most connections on one canvas whose comings and goings are sent.
pub const ANNOUNCED: usize = 64;

/// Per canvas, its connections by id.
#[derive(Debug, Default)]
pub struct Presence {
    canvases: Mutex<HashMap<String, HashMap<String, Weak<Client>>>>,
}

impl Presence {
    /// `client` is on `canvas` now.
    pub fn join(&self, canvas: &str, client: &Arc<Client>) {
        let mut canvases = self.canvases.lock().unwrap_or_else(PoisonError::into_inner);
        let members = canvases.entry(canvas.to_owned()).or_default();
        if members.contains_key(&client.id) {
            return;
        }
        let announce = members.len() < ANNOUNCED;
        let here: Vec<Arc<Client>> = if announce {
            members.values().filter_map(Weak::upgrade).collect()
        } else {
            Vec::new()
        };
        members.insert(client.id.clone(), Arc::downgrade(client));
        if !announce {
            return;
        }
        for member in &here {
            client.send(message(canvas, member, PresenceState::Joined));
        }
        let joined: Arc<dyn Outgoing> =
            Arc::new(Encoded::new(message(canvas, client, PresenceState::Joined)));
        for member in &here {
            member.push(joined.clone());
        }
    }

    /// `client` left `canvas` (every connection leaves each canvas it
    /// followed when it closes).
    pub fn leave(&self, canvas: &str, client: &Client) {
        let mut canvases = self.canvases.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(members) = canvases.get_mut(canvas) else {
            return;
        };
        if members.remove(&client.id).is_none() {
            return;
        }
        if members.is_empty() {
            canvases.remove(canvas);
            return;
        }
        if members.len() >= ANNOUNCED {
            return;
        }
        let left: Arc<dyn Outgoing> =
            Arc::new(Encoded::new(message(canvas, client, PresenceState::Left)));
        for member in members.values().filter_map(Weak::upgrade) {
            member.push(left.clone());
        }
    }
}

fn message(canvas: &str, client: &Client, state: PresenceState) -> ServerMessage {
    ServerMessage::Presence {
        canvas: canvas.to_owned(),
        connection: client.id.clone(),
        key: client.principal.name.clone(),
        state,
    }
}
