//! Write-then-rename, so a crash or an error never leaves a half-written output.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

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
/// if `write` succeeded; on failure the temporary file is removed.
pub fn write_atomic<F>(dest: &Path, write: F) -> Result<()>
where
    F: FnOnce(&Path) -> Result<()>,
{
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = temp_path(dest);
    match write(&tmp) {
        Ok(()) => std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e)),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
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
