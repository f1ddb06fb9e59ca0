//! Hostile input: importers.
