//! The archive side of a finished recording: a second copy in the backup directory, both
//! hashed with SHA-256, and re-verification of both copies later.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A recording with its backup copy, both hashed alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archived {
    /// The primary copy.
    pub path: PathBuf,
    /// The backup copy.
    pub backup_path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (hex) of both copies.
    pub sha256: String,
}

/// What a check of one copy found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyCheck {
    /// The copy hashes to the indexed value.
    Intact,
    /// The file is gone.
    Missing,
    /// The file hashes to something else: it was changed or damaged.
    Mismatch {
        /// What it hashes to now.
        found: String,
    },
    /// The file exists but could not be read.
    Unreadable(String),
}

impl CopyCheck {
    /// Whether the copy is intact.
    pub fn is_intact(&self) -> bool {
        matches!(self, CopyCheck::Intact)
    }
}

/// SHA-256 (lower-case hex) of a file, read in 1 MiB blocks.
///
/// # Errors
/// The file cannot be opened or read.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Copies `path` into `backup_dir` (same file name; an existing file there is refused), syncs
/// the copy, and hashes both. Blocking.
///
/// # Errors
/// I/O errors, or `InvalidData` when the copy does not hash like the original (the bad copy
/// is left for inspection).
pub fn archive(path: &Path, backup_dir: &Path) -> io::Result<Archived> {
    std::fs::create_dir_all(backup_dir)?;
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "recording path has no file name",
        )
    })?;
    let backup_path = backup_dir.join(name);
    let mut src = File::open(path)?;
    let mut dst = File::options()
        .write(true)
        .create_new(true)
        .open(&backup_path)?;
    let size = io::copy(&mut src, &mut dst)?;
    dst.sync_all()?;
    drop(dst);
    let sha256 = sha256_file(path)?;
    let backup_sha = sha256_file(&backup_path)?;
    if backup_sha != sha256 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "backup {} hashes to {backup_sha}, original to {sha256}",
                backup_path.display()
            ),
        ));
    }
    Ok(Archived {
        path: path.to_path_buf(),
        backup_path,
        size,
        sha256,
    })
}

/// Re-hashes one copy against the indexed hash. Blocking.
pub fn check_copy(path: &Path, sha256: &str) -> CopyCheck {
    match sha256_file(path) {
        Ok(h) if h.eq_ignore_ascii_case(sha256) => CopyCheck::Intact,
        Ok(found) => CopyCheck::Mismatch { found },
        Err(e) if e.kind() == io::ErrorKind::NotFound => CopyCheck::Missing,
        Err(e) => CopyCheck::Unreadable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_copies_hashes_and_detects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("8001-x.mkv");
        std::fs::write(&src, b"abc").unwrap();
        let a = archive(&src, &dir.path().join("backup")).unwrap();
        assert_eq!(
            a.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(a.size, 3);
        assert!(check_copy(&a.backup_path, &a.sha256).is_intact());
        // A second archive of the same name never overwrites the backup.
        assert!(archive(&src, &dir.path().join("backup")).is_err());
        std::fs::write(&a.backup_path, b"abd").unwrap();
        assert!(matches!(
            check_copy(&a.backup_path, &a.sha256),
            CopyCheck::Mismatch { .. }
        ));
        std::fs::remove_file(&src).unwrap();
        assert_eq!(check_copy(&src, &a.sha256), CopyCheck::Missing);
    }
}
