//! Who is on a canvas: every connection subscribed to it, by connection id
//! and key name. A newcomer is told who is there; the others are told when
//! it joins and leaves (unsubscribe or disconnect).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::client::Client;
use super::messages::{PresenceState, ServerMessage};
use crate::serve::encoded::{Encoded, Outgoing};

#[derive(Debug, Default)]
pub struct Presence {
    canvases: Mutex<HashMap<String, Vec<Weak<Client>>>>,
}

impl Presence {
    /// `client` is on `canvas` now.
    pub fn join(&self, canvas: &str, client: &Arc<Client>) {
        let mut canvases = self.canvases.lock().unwrap_or_else(PoisonError::into_inner);
        let members = canvases.entry(canvas.to_owned()).or_default();
        members.retain(|m| m.strong_count() > 0);
        let here: Vec<Arc<Client>> = members.iter().filter_map(Weak::upgrade).collect();
        if here.iter().any(|m| m.id == client.id) {
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
        members.push(Arc::downgrade(client));
    }

    /// `client` left `canvas`.
    pub fn leave(&self, canvas: &str, client: &Client) {
        let mut canvases = self.canvases.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(members) = canvases.get_mut(canvas) else {
            return;
        };
        let before = members.len();
        members.retain(|m| m.upgrade().is_some_and(|m| m.id != client.id));
        if members.len() == before {
            return;
        }
        let left: Arc<dyn Outgoing> =
            Arc::new(Encoded::new(message(canvas, client, PresenceState::Left)));
        for member in members.iter().filter_map(Weak::upgrade) {
            member.push(left.clone());
        }
        if members.is_empty() {
            canvases.remove(canvas);
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
