//! Retention (R9) and the letters to print. Personal data of cases closed longer than the
//! retention period is removed, files included: attachments no case refers to any more, and
//! the printed letters of every anonymised case. Those letters live in one folder,
//! `data_dir/letters`, which the actions write to (never over an earlier letter) and this
//! clears.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::store::attachments::AttachmentStore;
use crate::store::Store;

/// Removes personal data of cases closed longer than the retention period (R9), files included:
/// attachments no case refers to any more, and the printed letters of every anonymised case.
pub async fn run_retention(store: &Store, data_dir: &std::path::Path, personal_data_days: u32) -> anyhow::Result<u64> {
    run_retention_by_organisation(store, data_dir, &[(None, personal_data_days)]).await
}

/// Each organisation's retention period (issue 25), by its key; `None`: every case and mail.
pub fn retention_periods(config: &crate::config::Config) -> Vec<(Option<String>, u32)> {
    match config.lists_organisations() {
        false => vec![(None, config.retention.personal_data_days)],
        true => config.organisations().into_iter().map(|o| (Some(o.key.to_string()), o.personal_data_days)).collect(),
    }
}

/// The daily run: retention with each organisation's period, then the search index merged
/// again where retention and the day's mail left it in pieces (see
/// [`Store::compact_search_index`]). A failure is logged; the next run retries.
pub async fn run_daily(store: &Store, data_dir: &std::path::Path, periods: &[(Option<String>, u32)]) {
    if let Err(e) = run_retention_by_organisation(store, data_dir, periods).await {
        tracing::warn!("retention failed; the next run retries: {e:#}");
    }
    let begun = std::time::Instant::now();
    match store.compact_search_index().await {
        Ok(0) => {}
        Ok(merged) => tracing::info!(indexes = merged, took_ms = begun.elapsed().as_millis() as u64, "search index merged"),
        Err(e) => tracing::warn!("merging the search index failed; the next run retries: {e:#}"),
    }
}

/// [`run_retention`] with each organisation's period (see [`retention_periods`]).
pub async fn run_retention_by_organisation(store: &Store, data_dir: &std::path::Path, periods: &[(Option<String>, u32)]) -> anyhow::Result<u64> {
    let attachments = AttachmentStore::new(data_dir);
    let mut cases = 0;
    let mut orphaned = Vec::new();
    for (organisation, days) in periods {
        let cutoff = chrono::Utc::now().timestamp() - i64::from(*days) * 86_400;
        let (n, files) = store.remove_personal_data_of(cutoff, organisation.as_deref()).await?;
        for hash in &files {
            attachments.remove(hash).with_context(|| format!("cannot remove attachment {hash}"))?;
        }
        cases += n;
        orphaned.extend(files);
    }
    // Every run sweeps the letters of all anonymised cases, so a file that could not be removed
    // once goes the next time.
    let letters = remove_letters(store, &letters_dir(data_dir)).await?;
    if cases > 0 || letters > 0 {
        tracing::info!(cases, files = orphaned.len(), letters, "personal data removed after the retention period");
    }
    Ok(cases)
}

/// Where letters to print are written: `data_dir/letters`.
pub(crate) fn letters_dir(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("letters")
}

/// Removes the letter files (`{reference}-*.txt`) of anonymised cases; returns how many.
async fn remove_letters(store: &Store, dir: &std::path::Path) -> anyhow::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let names: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    if names.is_empty() {
        return Ok(0);
    }
    let mut removed = 0;
    for reference in store.anonymised_references().await? {
        let (prefix, unfinished) = (format!("{reference}-"), format!(".{reference}-"));
        let theirs = |n: &&String| (n.starts_with(&prefix) && n.ends_with(".txt")) || (n.starts_with(&unfinished) && n.ends_with(".tmp"));
        for name in names.iter().filter(theirs) {
            let path = dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
            }
        }
    }
    Ok(removed)
}

/// Writes a letter to print as `dir/{stem}.txt`, or `{stem}-2.txt`, `-3`, ... if that exists:
/// never over an earlier letter. Mode 0600; written to a temporary file, synced, then linked
/// under its name, so the file is complete whenever it exists.
pub(crate) fn write_letter(dir: &std::path::Path, stem: &str, text: &str) -> anyhow::Result<PathBuf> {
    crate::store::private_files::create_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let tmp = dir.join(format!(".{stem}.{}.{nanos}.tmp", std::process::id()));
    let written = (|| {
        crate::store::private_files::write_temporary(&tmp, text.as_bytes())?;
        for n in 1u32.. {
            let path = if n == 1 { dir.join(format!("{stem}.txt")) } else { dir.join(format!("{stem}-{n}.txt")) };
            match std::fs::hard_link(&tmp, &path) {
                Ok(()) => return Ok(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        unreachable!("some sequence number is free")
    })();
    let _ = std::fs::remove_file(&tmp);
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    written.with_context(|| format!("cannot write a letter in {}", dir.display()))
}
