//! Attachment files on disk. A file is named by the SHA-256 of its content, so no name or path
//! from a mail ever reaches the file system, and the same document sent twice is stored once.

use std::path::{Path, PathBuf};

use ring::digest;

use crate::domain::inbound::hex;

#[derive(Debug, Clone)]
pub struct AttachmentStore {
    root: PathBuf,
}

impl AttachmentStore {
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join("attachments") }
    }

    /// Stores `data` (owner-readable only) and returns its SHA-256 in hex. Writes to a temporary
    /// file first and renames it, so a crash never leaves a half-written attachment behind.
    pub fn save(&self, data: &[u8]) -> std::io::Result<String> {
        let hash = hex(digest::digest(&digest::SHA256, data).as_ref());
        let path = self.path_of(&hash);
        if path.is_file() {
            return Ok(hash);
        }
        let dir = path.parent().expect("hash paths have a parent");
        crate::store::private_files::create_dir(dir)?;
        let tmp = dir.join(format!(".{hash}.{}.tmp", std::process::id()));
        crate::store::private_files::write_temporary(&tmp, data)?;
        std::fs::rename(&tmp, &path)?;
        Ok(hash)
    }

    /// As [`save`](Self::save), from the async runtime without copying `data` first (the
    /// intake's attachments and large raw mails).
    pub async fn save_async(&self, data: &[u8]) -> std::io::Result<String> {
        let hash = hex(digest::digest(&digest::SHA256, data).as_ref());
        let path = self.path_of(&hash);
        if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
            return Ok(hash);
        }
        let dir = path.parent().expect("hash paths have a parent");
        crate::store::private_files::create_dir(dir)?;
        let tmp = dir.join(format!(".{hash}.{}.tmp", std::process::id()));
        crate::store::private_files::write_temporary_async(&tmp, data).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(hash)
    }

    /// The content of a stored file (a large raw mail kept outside the database).
    pub async fn read(&self, hash: &str) -> std::io::Result<Vec<u8>> {
        tokio::fs::read(self.path_of(hash)).await
    }

    /// Deletes the file of an attachment no case refers to any more.
    pub fn remove(&self, hash: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path_of(hash)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Where the attachment with this hash lives. `hash` must be hex (it comes from our own
    /// database); anything else is refused rather than joined onto a path.
    pub fn path_of(&self, hash: &str) -> PathBuf {
        assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "not a SHA-256 hex digest");
        self.root.join(&hash[..2]).join(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn saves_by_content_hash_privately_and_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = AttachmentStore::new(dir.path());
        let a = store.save(b"hello").unwrap();
        assert_eq!(a, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(store.save(b"hello").unwrap(), a);
        let path = store.path_of(&a);
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let files: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(files.len(), 1, "no temporary files left behind");
    }
}
