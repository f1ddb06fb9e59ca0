//! `set_canvas`: canvas-level settings (name, viewport, story, metadata).

use serde_json::{Map, Value};

use super::super::Canvas;
use super::journal::{CanvasSettings, Undo};
use crate::error::{Error, Result};
use crate::limits::{check_metadata, check_text, check_viewport};
use crate::model::{Story, Viewport};
use crate::ops::Op;

impl Canvas {
    pub(super) fn set_canvas(
        &mut self,
        name: Option<&str>,
        viewport: Option<Viewport>,
        story: Option<Story>,
        metadata: Option<&Map<String, Value>>,
        journal: &mut Vec<Undo>,
    ) -> Result<Op> {
        if let Some(name) = name {
            check_text("name", name)?;
        }
        if let Some(v) = &viewport {
            check_viewport(v)?;
        }
        if story.is_some_and(|s| s.page_count == Some(0)) {
            return Err(Error::InvalidField {
                field: "story",
                message: "page_count must be at least 1".into(),
            });
        }
        if let Some(m) = metadata {
            check_metadata(m)?;
        }
        let inverse = Op::SetCanvas {
            name: name.map(|_| self.name.clone()),
            viewport: viewport.map(|_| self.viewport),
            story: story.map(|_| self.story),
            metadata: metadata.map(|_| self.metadata.clone()),
        };
        journal.push(Undo::CanvasChanged(Box::new(CanvasSettings {
            name: self.name.clone(),
            viewport: self.viewport,
            story: self.story,
            metadata: metadata.map(|_| self.metadata.clone()),
        })));
        if let Some(name) = name {
            self.name = name.to_owned();
        }
        if let Some(v) = viewport {
            self.viewport = v;
        }
        if let Some(s) = story {
            self.story = s;
        }
        if let Some(m) = metadata {
            self.metadata = m.clone();
        }
        Ok(inverse)
    }
}
