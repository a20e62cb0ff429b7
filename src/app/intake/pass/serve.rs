//! A mailbox served: passes, and waits for mail in between; the mailbox lease, which lets one
//! instance at a time take mail in.

use std::time::Duration;

use tokio::sync::watch;

use super::{MailSource, MailboxIntake, PassError, PassReport, Waited};
use crate::app::health::{Health, Loop, BEAT_INTERVAL};

/// How long to wait between passes.
#[derive(Debug, Clone, Copy)]
pub struct Waits {
    /// For new mail, at most (a wall clock: a lost notification is caught by the next pass).
    pub for_mail: Duration,
    /// Before asking again for a mailbox another instance holds.
    pub standby: Duration,
}

impl MailboxIntake {
    /// Passes over `source` and waits for mail in between, until shutdown or a failure (the
    /// caller connects again). `on_pass` is called after each pass that went well.
    pub async fn serve<S: MailSource>(
        &self,
        source: &mut S,
        shutdown: &mut watch::Receiver<bool>,
        waits: Waits,
        on_pass: &mut (dyn FnMut() + Send),
    ) -> Result<(), PassError<S::Error>> {
        let mut was_standby = false;
        loop {
            self.health.beat(Loop::Mailbox);
            // What the source announced before this pass is covered by it.
            source.announced();
            let report = self.pass(source, shutdown).await?;
            // Mail that arrived during the pass may not be announced again. A pass that took
            // mail in runs once more, too: a source's announcements may have been lost.
            let more = source.announced() || report.fetched > 0;
            if report.standby != was_standby {
                tracing::info!(standby = report.standby, "{}", if report.standby { "another instance takes mail in; standing by" } else { "taking mail in" });
                was_standby = report.standby;
            }
            on_pass();
            self.count(&report);
            if *shutdown.borrow() {
                break;
            }
            if report.standby {
                self.health.sleep_beating(Loop::Mailbox, waits.standby, shutdown).await;
            } else if !more && self.wait(source, waits.for_mail, shutdown).await? == Waited::Shutdown {
                break;
            }
            if *shutdown.borrow() {
                break;
            }
        }
        Ok(())
    }

    /// Waits for mail, beating and keeping the lease meanwhile.
    async fn wait<S: MailSource>(&self, source: &mut S, timeout: Duration, shutdown: &mut watch::Receiver<bool>) -> Result<Waited, PassError<S::Error>> {
        let mailbox = source.mailbox().to_string();
        let wait = source.wait(timeout, shutdown);
        tokio::pin!(wait);
        let mut beat = tokio::time::interval(BEAT_INTERVAL);
        let waited = loop {
            tokio::select! {
                r = &mut wait => break r,
                _ = beat.tick() => {
                    self.health.beat(Loop::Mailbox);
                    // A database that is away shows at the next pass.
                    let _ = self.store.hold_mailbox(&mailbox, &self.holder, self.lease).await;
                }
            }
        };
        let waited = waited.map_err(PassError::Source)?;
        if waited == Waited::Changed {
            tracing::debug!("mailbox changed");
        }
        Ok(waited)
    }

    /// The pass's figures in the health counters and the log.
    fn count(&self, report: &PassReport) {
        self.health.last_sync_at.store(crate::store::now(), std::sync::atomic::Ordering::Relaxed);
        Health::count(&self.health.mails_fetched, report.fetched.into());
        Health::count(&self.health.cases_created, report.registered.into());
        Health::count(&self.health.follow_ups, report.follow_ups.into());
        Health::count(&self.health.quarantined, report.quarantined.into());
        if report.fetched > 0 {
            tracing::info!(
                fetched = report.fetched,
                registered = report.registered,
                follow_ups = report.follow_ups,
                ignored = report.ignored,
                duplicates = report.duplicates,
                quarantined = report.quarantined,
                "mailbox synced"
            );
        }
    }

    /// Takes or renews the lease on `mailbox`. Several instances on one database share the
    /// mailbox: one takes mail in at a time, so no mail is fetched and moved twice (two
    /// concurrent MOVEs of one mail can leave two copies). The lease of an instance on this
    /// machine whose process is gone (a crash, then a restart) is taken over at once.
    pub(super) async fn hold_mailbox(&self, mailbox: &str) -> Result<bool, crate::store::StoreError> {
        if self.store.hold_mailbox(mailbox, &self.holder, self.lease).await? {
            return Ok(true);
        }
        match self.store.mailbox_holder(mailbox).await? {
            Some(old) if holder_is_gone(&old, &self.holder) => {
                tracing::info!("taking over the mailbox from an instance on this machine that no longer runs");
                self.store.take_over_mailbox(mailbox, &old, &self.holder, self.lease).await
            }
            _ => Ok(false),
        }
    }

    /// Gives up the lease on `mailbox` (at shutdown), so that another instance takes over at once.
    pub async fn release(&self, mailbox: &str) {
        if let Err(e) = self.store.release_mailbox(mailbox, &self.holder).await {
            tracing::warn!(error = %e, "cannot give up the mailbox lease; another instance takes over when it runs out");
        }
    }
}

/// Whether lease holder `old` (`HOST:PID:N`) was a process on this machine (the host of `ours`)
/// that no longer runs.
fn holder_is_gone(old: &str, ours: &str) -> bool {
    let (mut old, mut ours) = (old.split(':'), ours.split(':'));
    let (Some(host), Some(pid)) = (old.next(), old.next()) else { return false };
    let (Some(our_host), Some(our_pid)) = (ours.next(), ours.next()) else { return false };
    host == our_host && pid != our_pid && pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_gone_process_on_this_machine_loses_its_lease_at_once() {
        let ours = format!("host-a:{}:0", std::process::id());
        assert!(!holder_is_gone(&format!("host-a:{}:1", std::process::id()), &ours), "a second daemon in this process");
        assert!(!holder_is_gone("host-a:1:0", &ours), "pid 1 runs");
        assert!(holder_is_gone("host-a:4294967295:0", &ours), "no such process");
        assert!(!holder_is_gone("host-b:4294967295:0", &ours), "another machine: wait for its lease to run out");
        assert!(!holder_is_gone("garbage", &ours));
    }
}
