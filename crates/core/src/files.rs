//! Writing small files whole: what a kill or a power cut can leave of them is the old file or
//! the new one, never a part. For the store's signing key and kept checkpoint, and for a
//! witness's key and its memory of the last checkpoint it cosigned.

use crate::error::CoreError;
use crate::random::random32;
use crate::types::hex;
use std::io::Write;
use std::path::Path;

/// Replaces (or creates) `path` with `bytes`: written to `path` + `.tmp`, synced, renamed over
/// `path`, and the rename synced. The file is durable when this returns.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    sync_folder_of(path)
}

/// Creates `path` with `bytes`, readable by its owner only (mode 0600), and never replaces a
/// file already there (an error of kind `AlreadyExists`): written to a temporary file of a
/// random name first, synced, then hard-linked to `path`, and the link synced.
pub fn create_private(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", hex(&random32()?[..8])));
    let tmp = path.with_file_name(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::hard_link(&tmp, path)
    });
    let removed = std::fs::remove_file(&tmp);
    written?;
    removed?;
    sync_folder_of(path)
}

/// Syncs the folder `path` is in (`.` for a bare file name), so that a rename or link in it
/// survives a power cut.
fn sync_folder_of(path: &Path) -> Result<(), CoreError> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(folder)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_holds_the_new_bytes_and_no_temporary_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint");
        replace(&path, b"first").unwrap();
        replace(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_private_file_is_owner_only_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        create_private(&path, b"secret").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        match create_private(&path, b"another") {
            Err(CoreError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists),
            other => panic!("an existing file is refused: {other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
