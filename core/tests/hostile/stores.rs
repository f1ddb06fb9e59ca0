//! Hostile input: stores.
