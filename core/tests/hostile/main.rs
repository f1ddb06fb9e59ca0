//! Hostile input: one module per area, each test a way in that once lost
//! data, exhausted the machine or gave a wrong result. Property tests and
//! bounded fuzzing of every loader live here too.

#[path = "../support/documents.rs"]
mod documents;
mod execution;
mod fuzz;
mod importers;
mod limits;
mod render;
mod stores;
