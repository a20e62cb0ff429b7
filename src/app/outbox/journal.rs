//! A note, written the moment the SMTP server accepts a mail, of which outgoing mail went out.
//!
//! Between the server's `250` and the commit that marks the row sent lies a window in which a
//! crash (`kill -9`, an OOM kill) leaves a mail the server has but the database calls pending;
//! after its lease it would go out a second time. The commit can wait for the database (SQLite
//! has one writer, and the intake holds it for each mail), while one append to a local file
//! takes microseconds and survives the death of the process (it is in the kernel's page cache
//! at once; only losing the machine itself loses it, and the database commit follows within
//! milliseconds). At start, the notes of this machine's processes that are gone are applied
//! to the database before anything is sent.
//!
//! One file per daemon (`DATA_DIR/outbox/sent-HOST-PID-N.log`, a line `ID` per mail), emptied
//! whenever every mail noted in it is recorded.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct SentJournal {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl SentJournal {
    /// Opens a new journal for this daemon in `dir`; `host` names this machine.
    pub fn create(dir: &Path, host: &str) -> std::io::Result<SentJournal> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        crate::store::private_files::create_dir(dir)?;
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("sent-{}-{}-{n}.log", file_safe(host), std::process::id()));
        let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&path)?;
        Ok(SentJournal { path, file: Mutex::new(file) })
    }

    /// Notes that outgoing mail `id` was accepted: one write, before anything else happens.
    pub fn note(&self, id: i64) -> std::io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(format!("{id}\n").as_bytes())
    }

    /// Forgets every note: all of them are recorded in the database.
    pub fn clear(&self) -> std::io::Result<()> {
        self.file.lock().unwrap_or_else(|e| e.into_inner()).set_len(0)
    }

    /// Closes and removes the journal (at a clean shutdown).
    pub fn remove(self) -> std::io::Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path)
    }
}

/// The journals in `dir` left by processes on this machine (`host`) that no longer run, with
/// the ids noted in each. A journal of a process that still runs (another daemon) is its own.
pub fn left_behind(dir: &Path, host: &str) -> std::io::Result<Vec<(PathBuf, Vec<i64>)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let prefix = format!("sent-{}-", file_safe(host));
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(&prefix).and_then(|rest| rest.split('-').next()).and_then(|pid| pid.parse::<u32>().ok()) else { continue };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())?;
        found.push((entry.path(), parse(&text)));
    }
    Ok(found)
}

/// The ids of a journal's text; a line cut short by the crash is skipped.
fn parse(text: &str) -> Vec<i64> {
    text.split_inclusive('\n').filter(|line| line.ends_with('\n')).filter_map(|line| line.trim().parse().ok()).collect()
}

/// A host name as part of a file name.
fn file_safe(host: &str) -> String {
    host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_of_a_gone_process_are_found_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SentJournal::create(dir.path(), "host-a").unwrap();
        journal.note(7).unwrap();
        journal.note(9).unwrap();
        // Ours, and this process runs: not left behind.
        assert!(left_behind(dir.path(), "host-a").unwrap().is_empty());
        // A process that is gone (no pid 0 in /proc), with a line cut short at the end.
        std::fs::write(dir.path().join("sent-host_a-0-3.log"), "11\n12\n1").unwrap();
        // Another machine's journal is its own.
        std::fs::write(dir.path().join("sent-host_b-0-0.log"), "13\n").unwrap();
        let found = left_behind(dir.path(), "host-a").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, vec![11, 12]);
        journal.clear().unwrap();
        assert_eq!(std::fs::read_to_string(&journal.path).unwrap(), "");
        journal.note(5).unwrap();
        assert_eq!(std::fs::read_to_string(&journal.path).unwrap(), "5\n");
    }
}
