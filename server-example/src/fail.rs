//! Errors as the command line prints them: `error[code]: message` and a hint.

use std::fmt::Display;
use std::path::Path;

use crate::exit;

/// Something that stopped a command, with the code, the message and what to
/// do next. Core errors keep their stable codes; the few errors of the
/// command line itself (`io`, `unknown_format`, ...) are snake_case too.
#[derive(Debug)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub hint: String,
    pub exit: u8,
}

impl Failure {
    /// A failure that refuses the command (exit code 2).
    pub fn new(code: &str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure {
            code: code.to_owned(),
            message: message.into(),
            hint: hint.into(),
            exit: exit::REFUSED,
        }
    }

    /// A core error, with its code and hint (exit code 2).
    pub fn core(error: &reelgraph::Error) -> Self {
        Failure::new(error.code(), error.to_string(), error.hint())
    }

    /// A core error about a file, named in the message.
    pub fn core_in(path: &Path, error: &reelgraph::Error) -> Self {
        Failure::new(
            error.code(),
            format!("{}: {error}", path.display()),
            error.hint(),
        )
    }

    /// A file that could not be read.
    pub fn read(path: &Path, error: impl Display) -> Self {
        Failure::new(
            "io",
            format!("cannot read {}: {error}", path.display()),
            "check the path and that the file is readable",
        )
    }

    /// A file or folder that could not be written.
    pub fn write(path: &Path, error: impl Display) -> Self {
        Failure::new(
            "io",
            format!("cannot write {}: {error}", path.display()),
            "check that the folder exists and is writable, and that the disk has space",
        )
    }

    /// Prints the failure on stderr.
    pub fn print(&self) {
        eprintln!("{}", error_line(&self.code, &self.message));
        if !self.hint.is_empty() {
            eprintln!("hint: {}", self.hint);
        }
    }
}

/// `error[code]: message`.
pub fn error_line(code: &str, message: &str) -> String {
    format!("error[{code}]: {message}")
}
