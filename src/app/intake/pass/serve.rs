//! A mailbox served: passes, and waits for mail in between, while this instance holds the
//! mailbox's lease (see [`crate::app::leases`]), which lets one instance at a time take mail in.

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
        let mut leases_changed = self.leases.subscribe();
        loop {
            leases_changed.borrow_and_update();
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
                // Until the lease is ours (or the next look, should a change be missed).
                tokio::select! {
                    _ = self.health.sleep_beating(Loop::Mailbox, waits.standby, shutdown) => {}
                    _ = leases_changed.changed() => {}
                }
            } else if !more && self.wait(source, self.wait_limit(waits.for_mail), shutdown).await? == Waited::Shutdown {
                break;
            }
            if *shutdown.borrow() {
                break;
            }
        }
        Ok(())
    }

    /// How long to wait for mail at most: where instances share the mailboxes, a pass (a safe
    /// point to give the mailbox up, see `Leases::at_safe_point`) at least every third of the
    /// lease time, so a mailbox to be given up is given up promptly.
    fn wait_limit(&self, for_mail: Duration) -> Duration {
        if self.store.is_shared() {
            for_mail.min(self.leases.interval())
        } else {
            for_mail
        }
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
                    if self.leases.state(&mailbox) == crate::app::leases::LeaseState::Held {
                        let _ = self.store.renew_mailbox(&mailbox, self.leases.id(), self.lease).await;
                    }
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

    /// Whether to take mail in from `mailbox` now (see `Leases::at_safe_point`). Several
    /// instances on one database share the mailboxes: one takes a mailbox's mail in at a time,
    /// so no mail is fetched and moved twice (two concurrent MOVEs of one mail can leave two
    /// copies).
    pub(super) async fn hold_mailbox(&self, mailbox: &str) -> Result<bool, crate::store::StoreError> {
        self.leases.at_safe_point(mailbox, self.lease).await
    }

    /// Gives up the lease on `mailbox` (at shutdown), so that another instance takes over at once.
    pub async fn release(&self, mailbox: &str) {
        self.leases.release(mailbox).await;
    }
}
