//! Errors as the command line prints them: `error[code]: message` and a hint.

use std::fmt::Display;
use std::path::Path;

use crate::exit;

/// Something that stopped a command, with the code, the message and what to
/// do next. Every code is one of the core's (`reelgraph::error_codes`).
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

    /// A file that could not be read (the core's `io`).
    pub fn read(path: &Path, error: impl Display) -> Self {
        Failure::core(&io_error("read", path, error))
    }

    /// A file or folder that could not be written (the core's `io`).
    pub fn write(path: &Path, error: impl Display) -> Self {
        Failure::core(&io_error("write", path, error))
    }

    /// Something the command needs from the process that could not be
    /// started (the core's `runtime`).
    pub fn runtime(what: &str, error: impl Display) -> Self {
        Failure::core(&reelgraph::Error::Runtime {
            what: what.to_owned(),
            message: error.to_string(),
        })
    }

    /// Prints the failure on stderr.
    pub fn print(&self) {
        eprintln!("{}", error_line(&self.code, &self.message));
        if !self.hint.is_empty() {
            eprintln!("hint: {}", self.hint);
        }
    }
}

fn io_error(action: &'static str, path: &Path, error: impl Display) -> reelgraph::Error {
    reelgraph::Error::Io {
        action,
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

/// `error[code]: message`.
pub fn error_line(code: &str, message: &str) -> String {
    format!("error[{code}]: {message}")
}

#[cfg(test)]
mod tests {
    use reelgraph::error_codes::ERROR_CODES;

    /// Every code the command line writes is one of the core's, so scripts
    /// and the bindings share one table: the codes it names itself, in
    /// calls of `Failure::new` with a literal code, are checked here (core errors carry
    /// theirs already).
    #[test]
    fn every_code_the_command_line_writes_is_a_core_code() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut named = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("src") {
            let path = entry.expect("entry").path();
            // The server (src/serve/) has its own table, checked by its tests.
            if path.is_dir() {
                continue;
            }
            let text = std::fs::read_to_string(path).expect("source");
            for call in text.split("Failure::new(").skip(1) {
                let code = call
                    .trim_start()
                    .strip_prefix('"')
                    .and_then(|c| c.split('"').next())
                    .filter(|c| {
                        !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    });
                named.extend(code.map(str::to_owned));
            }
        }
        assert!(named.len() >= 3, "found {named:?}: is the scan right?");
        for code in named {
            assert!(
                ERROR_CODES.iter().any(|row| row.code == code),
                "the command line writes `{code}`, which is not in reelgraph::error_codes"
            );
        }
    }
}
