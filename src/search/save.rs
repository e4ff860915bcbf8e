//! Saving a folder atomically: the one save path of every index type. The folder
//! is written under a temporary name beside its destination, synced, and then
//! swapped into place in one step, so that a crash of the saving process at any
//! instant leaves the complete old folder or the complete new one at the path.
//!
//! The steps, with what a crash (the process killed) after each one leaves:
//! 1. Litter of earlier crashed saves of the same path is removed: temporary
//!    folders named `.<name>.tmp-<pid>-<n>` or `.<name>.old-<pid>-<n>` whose
//!    process is gone. Nothing else is touched.
//! 2. The new folder is written as `.<name>.tmp-<pid>-<n>`, every file synced, the
//!    manifest last, then the folder itself synced. A crash leaves the old index at
//!    the path (or nothing, for a new path) and litter for the next save.
//! 3. It takes the path's place: `rename` for a new path; for an existing one,
//!    Linux's `renameat2(RENAME_EXCHANGE)`, which swaps the two folders atomically
//!    (the old one is then under the temporary name). A crash before the swap leaves
//!    the old index, after it the new one.
//! 4. The old folder (now under the temporary name) is deleted, and the parent
//!    folder is synced, so that the new name survives a power loss too.
//!
//! Where `RENAME_EXCHANGE` is not available (not Linux, or a file system that
//! refuses it), the old index is renamed aside (`.<name>.old-<pid>-<n>`) and the
//! new one renamed into place: a crash between those two renames leaves nothing at
//! the path, and the old index under its `.old` name, which the next save removes.
//!
//! Two processes saving to the same path at once need no lock: each swaps its own
//! complete folder in, and the path ends with the one that swapped last. A process
//! that has an index memory-mapped keeps its old files (deleted but still mapped)
//! until it opens the path again.
//!
//! In debug builds (the tests), `NDARRAY_INNER_CRASH_AT=N` aborts the process at
//! the `N`-th file-system step of a save (see [`step`]), so that a test can crash a
//! save at every step in turn.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::InnerError;

/// The kinds of temporary folder a save makes beside its destination.
const TEMPORARY_KINDS: [&str; 2] = ["tmp", "old"];

/// Saves a folder at `path`: `write` fills the empty folder it is given (every file
/// written and synced by [`write_file`]); the folder then replaces
/// whatever `path` holds, atomically where the platform allows (see the module
/// docs). `path` must not exist, or be a folder `replaceable` accepts.
pub(crate) fn save_folder(
    path: &Path,
    replaceable: impl Fn(&Path) -> Result<(), InnerError>,
    write: impl FnOnce(&Path) -> Result<(), InnerError>,
) -> Result<(), InnerError> {
    if path.exists() {
        replaceable(path)?;
    }
    remove_litter(path);
    let tmp = sibling(path, "tmp")?;
    step();
    fs::create_dir(&tmp).map_err(|e| InnerError::Io {
        path: path.to_path_buf(),
        kind: e.kind(),
        message: format!("{e} (creating a temporary folder beside it)"),
    })?;
    let written = write(&tmp)
        .and_then(|()| sync_dir(&tmp))
        .map_err(|err| inside(err, &tmp, path))
        .and_then(|()| move_into_place(&tmp, path));
    match written {
        Ok(old_at_tmp) => {
            if old_at_tmp {
                step();
                let _ = fs::remove_dir_all(&tmp);
            }
            step();
            sync_parent(path)
        }
        Err(err) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(err)
        }
    }
}

/// Writes a new file at `path` holding `parts` one after the other, and syncs it;
/// a crash step at its creation, before each part, and around the sync.
pub(crate) fn write_file(path: &Path, parts: &[&[u8]]) -> Result<(), InnerError> {
    step();
    let file = File::create(path).map_err(|e| InnerError::io(path, &e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for part in parts {
        step();
        out.write_all(part).map_err(|e| InnerError::io(path, &e))?;
    }
    out.flush().map_err(|e| InnerError::io(path, &e))?;
    step();
    out.get_ref().sync_all().map_err(|e| InnerError::io(path, &e))?;
    step();
    Ok(())
}

/// Syncs the folder `dir`'s entries.
fn sync_dir(dir: &Path) -> Result<(), InnerError> {
    step();
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| InnerError::io(dir, &e))
}

/// Syncs the folder holding `path`, so that a rename into it survives a power loss.
fn sync_parent(path: &Path) -> Result<(), InnerError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    sync_dir(parent).map_err(|err| match err {
        InnerError::Io { kind, message, .. } => InnerError::Io {
            path: path.to_path_buf(),
            kind,
            message: format!("{message} (syncing the folder that holds it, after the save)"),
        },
        other => other,
    })
}

/// An error inside the temporary folder `tmp` (deleted by then) reported for
/// `path`, with the file that failed.
fn inside(err: InnerError, tmp: &Path, path: &Path) -> InnerError {
    match err {
        InnerError::Io {
            path: failed,
            kind,
            message,
        } if failed.starts_with(tmp) => {
            let file = failed.strip_prefix(tmp).map(Path::to_path_buf).unwrap_or_default();
            let message = if file.as_os_str().is_empty() {
                format!("{message} (syncing the new folder)")
            } else {
                format!("{message} (writing {})", file.display())
            };
            InnerError::Io {
                path: path.to_path_buf(),
                kind,
                message,
            }
        }
        other => other,
    }
}

/// A fresh name beside `path`: `.<name>.<kind>-<pid>-<n>`.
fn sibling(path: &Path, kind: &str) -> Result<PathBuf, InnerError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| InnerError::Io {
        path: path.to_path_buf(),
        kind: io::ErrorKind::InvalidInput,
        message: "is not a folder name to save to".into(),
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{kind}-{}-{n}", std::process::id()));
    Ok(path.with_file_name(tmp))
}

/// The process id in a temporary folder's name, if `entry` is one of `path`'s
/// (`.<name>.tmp-<pid>-<n>` or `.<name>.old-<pid>-<n>`, exactly).
fn temporary_owner(entry: &std::ffi::OsStr, name: &std::ffi::OsStr) -> Option<u32> {
    let entry = entry.to_str()?;
    let rest = entry
        .strip_prefix('.')?
        .strip_prefix(name.to_str()?)?
        .strip_prefix('.')?;
    let (kind, numbers) = rest.split_once('-')?;
    if !TEMPORARY_KINDS.contains(&kind) {
        return None;
    }
    let (pid, n) = numbers.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(pid) || !all_digits(n) {
        return None;
    }
    pid.parse().ok()
}

/// Whether the process `pid` still runs (a save of its may be under way). Where
/// this cannot be known, it is taken to run: its folders are left alone.
fn process_runs(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes the temporary folders that crashed saves of `path` left beside it
/// (their process is gone). Errors are ignored: litter is no reason to fail a save.
fn remove_litter(path: &Path) {
    let (Some(name), Some(parent)) = (path.file_name(), path.parent()) else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        if let Some(pid) = temporary_owner(&entry.file_name(), name) {
            if !process_runs(pid) {
                step();
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Moves the complete folder `tmp` to `path`. `Ok(true)`: the old folder is now
/// at `tmp`, to be deleted.
fn move_into_place(tmp: &Path, path: &Path) -> Result<bool, InnerError> {
    if !path.exists() {
        step();
        match fs::rename(tmp, path) {
            Ok(()) => return Ok(false),
            // Another save made the path meanwhile: swap with it below.
            Err(e) if path.is_dir() => drop(e),
            Err(e) => return Err(InnerError::io(path, &e)),
        }
    }
    step();
    match exchange(tmp, path) {
        Ok(()) => return Ok(true),
        Err(e) if exchange_unsupported(&e) => {}
        Err(e) => return Err(InnerError::io(path, &e)),
    }
    // No atomic exchange here: set the old index aside, move the new one in.
    let old = sibling(path, "old")?;
    step();
    fs::rename(path, &old).map_err(|e| InnerError::io(path, &e))?;
    step();
    if let Err(e) = fs::rename(tmp, path) {
        let _ = fs::rename(&old, path);
        return Err(InnerError::io(path, &e));
    }
    step();
    let _ = fs::remove_dir_all(&old);
    Ok(false)
}

/// Whether `exchange` failed because the system or file system cannot swap.
fn exchange_unsupported(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::Unsupported | io::ErrorKind::InvalidInput)
}

/// Swaps the folders `a` and `b` in one step (`renameat2` with `RENAME_EXCHANGE`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: `renameat2` reads the two NUL-terminated strings, which the `CString`s
    // keep alive for the call; `AT_FDCWD` makes relative paths relative to the
    // working directory, as `fs::rename` does. It touches no memory of ours.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // No renameat2 in this kernel, or no exchange on this file system.
        Some(libc::ENOSYS) | Some(libc::EINVAL) => Err(io::Error::new(io::ErrorKind::Unsupported, e)),
        _ => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// A file-system step of a save. In debug builds, `NDARRAY_INNER_CRASH_AT=N`
/// (read once) aborts the process at the `N`-th step, counted from 1 across the
/// process: the crash tests' way to stop a save at every step in turn.
fn step() {
    #[cfg(debug_assertions)]
    {
        use std::sync::OnceLock;
        static CRASH_AT: OnceLock<Option<u64>> = OnceLock::new();
        static STEPS: AtomicU64 = AtomicU64::new(0);
        let crash_at = *CRASH_AT.get_or_init(|| {
            std::env::var("NDARRAY_INNER_CRASH_AT")
                .ok()
                .and_then(|v| v.trim().parse().ok())
        });
        if let Some(at) = crash_at {
            if STEPS.fetch_add(1, Ordering::SeqCst) + 1 == at {
                std::process::abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn temporary_names_are_recognised_exactly() {
        let name = OsStr::new("idx");
        assert_eq!(temporary_owner(OsStr::new(".idx.tmp-123-0"), name), Some(123));
        assert_eq!(temporary_owner(OsStr::new(".idx.old-7-42"), name), Some(7));
        for other in [
            "idx",
            ".idx.tmp-123",
            ".idx.tmp-12a-0",
            ".idx.new-1-0",
            ".idxx.tmp-1-0",
            ".idx.tmp-1-0-extra",
            ".other.tmp-1-0",
            ".idx.tmp--0",
        ] {
            assert_eq!(temporary_owner(OsStr::new(other), name), None, "{other}");
        }
    }

    #[test]
    fn this_process_runs() {
        assert!(process_runs(std::process::id()));
    }
}
