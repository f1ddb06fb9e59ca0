//! Hostile input: render.
