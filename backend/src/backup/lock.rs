//! One writer per backups directory: a backup (and the retention after it) holds `.lock`
//! exclusively, so two backups started at once run one after the other and retention never
//! deletes a blob a running backup is about to list. Restores hold it shared, so retention
//! waits for them too. The system releases the lock when the process ends, however it ends.

use std::{
    fs::{self, File, TryLockError},
    io,
    path::Path,
};

const LOCK_FILE: &str = ".lock";

/// Held until dropped.
pub struct DirLock {
    _file: File,
}

/// Takes the directory for writing, waiting (and saying so) while another backup runs.
pub fn exclusive(dir: &Path) -> io::Result<DirLock> {
    let file = open(dir)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            eprintln!(
                "another backup is running in {}; waiting for it to finish",
                dir.display()
            );
            file.lock()?;
        }
        Err(TryLockError::Error(error)) => return Err(error),
    }
    Ok(DirLock { _file: file })
}

/// Takes the directory for reading, waiting while a backup or its retention runs.
pub fn shared(dir: &Path) -> io::Result<DirLock> {
    let file = open(dir)?;
    match file.try_lock_shared() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            eprintln!(
                "a backup is running in {}; waiting for it to finish",
                dir.display()
            );
            file.lock_shared()?;
        }
        Err(TryLockError::Error(error)) => return Err(error),
    }
    Ok(DirLock { _file: file })
}

fn open(dir: &Path) -> io::Result<File> {
    let path = dir.join(LOCK_FILE);
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        // A read-only copy of a backups directory (a mounted archive) can still be read.
        .or_else(|_| File::open(&path))
}
