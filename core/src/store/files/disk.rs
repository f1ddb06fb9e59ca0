//! The file operations the file store is built from: atomic replacement,
//! bounded reads, directory syncs, advisory locks, and error mapping.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::store::MAX_DOCUMENT_BYTES;

/// A `storage` error naming the path.
pub(super) fn storage(path: &Path, e: &io::Error) -> Error {
    Error::Storage {
        message: e.to_string(),
        path: Some(path.display().to_string()),
    }
}

/// The temp file a write to `path` goes through: same directory, so the
/// rename that publishes it is atomic. Writers hold the canvas lock, so one
/// fixed name per target is enough; a crash leaves at most one behind, and
/// the next write to the same target reuses it.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces `path` with `bytes` all at once: write a temp file beside it,
/// fsync it, rename it over `path`, fsync the directory. A crash at any
/// point leaves either the old file or the new one, never a mix.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_via(&temp_path(path), path, bytes)
}

/// [`write_atomic`] for a writer that holds no lock: its temp file's name
/// is its own (process id and a counter), so writers racing on `path` each
/// publish a whole file and the last rename wins.
pub(super) fn write_atomic_unlocked(path: &Path, bytes: &[u8]) -> Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    name.push(format!(".{}-{n}.tmp", std::process::id()));
    let temp = path.with_file_name(name);
    let written = write_via(&temp, path, bytes);
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

fn write_via(temp: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(temp)
        .map_err(|e| storage(temp, &e))?;
    file.write_all(bytes).map_err(|e| storage(temp, &e))?;
    file.sync_all().map_err(|e| storage(temp, &e))?;
    drop(file);
    fs::rename(temp, path).map_err(|e| storage(path, &e))?;
    sync_dir(parent(path))
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// Makes the entries of a directory (creations, renames, removals) durable.
pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| storage(dir, &e))?;
    }
    // Elsewhere a directory cannot be opened for syncing; NTFS journals
    // its metadata.
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Creates a directory (and its parents) and makes its entry durable.
pub(super) fn create_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| storage(dir, &e))?;
    sync_dir(parent(dir))
}

/// Reads a stored text file: none if it does not exist; `too_large` past
/// [`MAX_DOCUMENT_BYTES`] (checked before reading); `corrupt_document`
/// naming the file if it is not UTF-8.
pub(super) fn read_text(path: &Path) -> Result<Option<String>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(storage(path, &e)),
    };
    let len = file.metadata().map_err(|e| storage(path, &e))?.len();
    let too_large = |size: u64| Error::TooLarge {
        size: usize::try_from(size).unwrap_or(usize::MAX),
        limit: MAX_DOCUMENT_BYTES,
    };
    if len > MAX_DOCUMENT_BYTES as u64 {
        return Err(too_large(len));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // The limit holds even if the file grows while it is read.
    file.take(MAX_DOCUMENT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| storage(path, &e))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| Error::Corrupt {
            location: path.display().to_string(),
            message: format!(
                "it is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        })
}

/// Reads a file the store can do without (a cache): none if it is absent,
/// unreadable, or larger than [`MAX_DOCUMENT_BYTES`].
pub(super) fn read_small(path: &Path) -> Option<Vec<u8>> {
    let file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    if len > MAX_DOCUMENT_BYTES as u64 {
        return None;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).ok()?);
    file.take(MAX_DOCUMENT_BYTES as u64)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

/// Removes a file; one that is already gone is fine.
pub(super) fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(storage(path, &e)),
    }
}

/// Removes a directory tree; one that is already gone is fine.
pub(super) fn remove_dir_all(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(storage(path, &e)),
    }
}

/// An exclusive OS advisory lock on a file, held until dropped. It excludes
/// other processes and other handles in this process alike (`flock` on
/// Unix, `LockFileEx` on Windows), and the OS releases it if the holder dies.
#[derive(Debug)]
pub(super) struct Lock {
    _file: File,
}

impl Lock {
    /// Waits for the lock on `path`, creating the file if needed.
    pub(super) fn exclusive(path: &Path) -> Result<Lock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| storage(path, &e))?;
        file.lock().map_err(|e| storage(path, &e))?;
        Ok(Lock { _file: file })
    }
}
