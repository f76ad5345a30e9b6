//! Write-then-rename, so a crash or an error never leaves a half-written output.
//! Temporary files being written are registered, so that an interrupted process
//! (Ctrl-C) can remove them before it exits ([`remove_partials`]).

use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// The temporary files being written right now.
static PARTIALS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn partials() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    PARTIALS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes every temporary file still being written and returns how many were
/// removed. Meant for an interrupt handler that then exits: the registry stays
/// locked until the process ends, so no new temporary file appears meanwhile.
pub fn remove_partials() -> usize {
    let guard = partials();
    let removed = guard
        .iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count();
    std::mem::forget(guard);
    removed
}

/// Removes the temporary files that a process which no longer runs left in
/// `dir` while writing outputs whose names start with `prefix` (a run killed
/// with SIGKILL or by a power cut cannot clean up after itself). Returns how
/// many were removed. Only where the OS lists processes (`/proc`).
pub fn remove_stale_partials(dir: &Path, prefix: &str) -> Result<usize> {
    if !Path::new("/proc/self").exists() {
        return Ok(0);
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((stem, pid)) = name.rsplit_once(".partial-") else {
            continue;
        };
        let ours = stem
            .strip_prefix('.')
            .is_some_and(|s| s.starts_with(prefix));
        let dead = pid
            .parse::<u32>()
            .is_ok_and(|p| !Path::new(&format!("/proc/{p}")).exists());
        if ours && dead {
            let path = e.path();
            std::fs::remove_file(&path).map_err(|err| Error::io(&path, err))?;
            tracing::info!("removed {} left by an interrupted run", path.display());
            removed += 1;
        }
    }
    Ok(removed)
}

/// The temporary name used while `dest` is being written (same folder, so the
/// final rename is atomic on one file system).
pub fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Runs `write` on a temporary path next to `dest` and renames it to `dest` only
/// if `write` succeeded; when either fails the temporary file is removed.
pub fn write_atomic<F>(dest: &Path, write: F) -> Result<()>
where
    F: FnOnce(&Path) -> Result<()>,
{
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = temp_path(dest);
    partials().insert(tmp.clone());
    let r = write(&tmp).and_then(|()| std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e)));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    partials().remove(&tmp);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("scgnn-atomic-{}", std::process::id()));
        let dest = dir.join("out.txt");
        let r = write_atomic(&dest, |p| {
            std::fs::write(p, "half").unwrap();
            Err(Error::Usage("boom".into()))
        });
        assert!(r.is_err());
        assert!(!dest.exists());
        assert!(!temp_path(&dest).exists());
        write_atomic(&dest, |p| {
            std::fs::write(p, "full").map_err(|e| Error::io(p, e))
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "full");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
