//! Files only the service account may read (R9): directories mode 0700, files mode 0600, each
//! written under a temporary name and synced before it gets its real one, so a file that exists
//! is complete.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Creates `dir` and its missing parents, mode 0700.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Writes `data` to the new file `tmp` (mode 0600) and syncs it; the caller then gives it its
/// real name.
pub fn write_temporary(tmp: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(tmp)?;
    file.write_all(data)?;
    file.sync_all()
}

/// As [`write_temporary`], from the async runtime with a borrowed buffer: tokio's file takes
/// the data a few MiB at a time, so a large mail or attachment is never copied whole.
pub async fn write_temporary_async(tmp: &Path, data: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(tmp).await?;
    file.write_all(data).await?;
    file.sync_all().await
}
