//! Hostile input: execution.
