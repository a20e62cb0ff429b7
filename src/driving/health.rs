//! The metrics endpoint: the daemon's health (see [`crate::app::health`]) in Prometheus text
//! format, with gauges read from the database.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

use crate::app::health::Health;
use crate::store::{now, OutboxStatus, Store};

/// A mailbox as the metrics label it: its name and its organisation's key, and its key in the
/// database (see `config::MailboxSpec`).
#[derive(Debug, Clone)]
pub struct MetricsMailbox {
    pub name: String,
    pub organisation: String,
    pub key: String,
}

impl MetricsMailbox {
    pub fn of(config: &crate::config::Config) -> Vec<Self> {
        config.mailboxes().into_iter().map(|m| Self { name: m.name, organisation: m.organisation.to_string(), key: m.key }).collect()
    }
}

/// A label value as Prometheus wants it written.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Health {
    /// Per mailbox (`mailbox` and `organisation` labels) whether it has a session up and the
    /// age of its last sync, and per organisation its open cases, from the database.
    async fn per_mailbox(&self, out: &mut String, store: &Store, mailboxes: &[MetricsMailbox]) {
        let up = self.mailboxes_up();
        let _ = writeln!(out, "# HELP klachtd_mailbox_up 1 while the mailbox has a session up\n# TYPE klachtd_mailbox_up gauge");
        for m in mailboxes {
            let n = u8::from(up.get(&m.key).copied().unwrap_or(false));
            let _ = writeln!(out, "klachtd_mailbox_up{{mailbox=\"{}\",organisation=\"{}\"}} {n}", label(&m.name), label(&m.organisation));
        }
        let age = |t: i64| if t > 0 { now() - t } else { -1 };
        if let Ok(synced) = store.mailbox_sync_times().await {
            let _ = writeln!(
                out,
                "# HELP klachtd_mailbox_sync_age_seconds Seconds since a mailbox was last synced (-1: never)\n# TYPE klachtd_mailbox_sync_age_seconds gauge"
            );
            for m in mailboxes {
                let at = synced.get(&m.key).copied().unwrap_or(0);
                let _ =
                    writeln!(out, "klachtd_mailbox_sync_age_seconds{{mailbox=\"{}\",organisation=\"{}\"}} {}", label(&m.name), label(&m.organisation), age(at));
            }
        }
        if let Ok(open) = store.open_cases_by_organisation().await {
            let _ = writeln!(out, "# HELP klachtd_organisation_open_cases Open cases by organisation\n# TYPE klachtd_organisation_open_cases gauge");
            let mut organisations: Vec<&str> = mailboxes.iter().map(|m| m.organisation.as_str()).collect();
            organisations.dedup();
            for organisation in organisations {
                let n = open.iter().find(|(o, _)| o == organisation).map_or(0, |(_, n)| *n);
                let _ = writeln!(out, "klachtd_organisation_open_cases{{organisation=\"{}\"}} {n}", label(organisation));
            }
        }
    }

    /// Prometheus text format: the counters, plus gauges read from the database (the same
    /// figures `klachtd status` shows, and per mailbox and organisation).
    pub async fn prometheus(&self, store: &Store, mailboxes: &[MetricsMailbox]) -> String {
        let keys: Vec<String> = mailboxes.iter().map(|m| m.key.clone()).collect();
        let up = self.mailboxes_up();
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 13] = [
            ("klachtd_mails_fetched_total", "Mails fetched from the mailbox", &self.mails_fetched),
            ("klachtd_cases_created_total", "Cases registered from mail", &self.cases_created),
            ("klachtd_follow_ups_total", "Mails threaded into existing cases", &self.follow_ups),
            ("klachtd_quarantined_total", "Mails moved to quarantine", &self.quarantined),
            ("klachtd_acknowledgements_sent_total", "Acknowledgements accepted by the SMTP server", &self.acknowledgements_sent),
            ("klachtd_mails_sent_total", "Mails accepted by the SMTP server", &self.mails_sent),
            ("klachtd_mails_undeliverable_total", "Mails refused for good by the SMTP server (not retried)", &self.mails_undeliverable),
            ("klachtd_reminders_sent_total", "Reminders and escalations accepted by the SMTP server", &self.reminders_sent),
            ("klachtd_reminder_sweeps_total", "Looks for due reminders that ran to the end", &self.reminder_sweeps),
            ("klachtd_errors_total{kind=\"mailbox\"}", "Errors by kind", &self.errors_mailbox),
            ("klachtd_errors_total{kind=\"smtp\"}", "", &self.errors_smtp),
            ("klachtd_errors_total{kind=\"database\"}", "", &self.errors_database),
            ("klachtd_mailbox_connected", "Mailboxes with a session up", &AtomicU64::new(up.values().filter(|up| **up).count() as u64)),
        ];
        for (name, help, value) in counters {
            let base = name.split('{').next().unwrap_or(name);
            if !help.is_empty() {
                let kind = if base.ends_with("_total") { "counter" } else { "gauge" };
                let _ = writeln!(out, "# HELP {base} {help}\n# TYPE {base} {kind}");
            }
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let age = |t: i64| if t > 0 { now() - t } else { -1 };
        let lag = age(self.last_sync_at.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP klachtd_sync_lag_seconds Seconds since the last successful mailbox sync (-1: none yet)\n# TYPE klachtd_sync_lag_seconds gauge\nklachtd_sync_lag_seconds {lag}");
        let sweep = age(self.last_reminder_sweep_at.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP klachtd_reminder_sweep_age_seconds Seconds since the last finished reminder sweep (-1: none yet)\n# TYPE klachtd_reminder_sweep_age_seconds gauge\nklachtd_reminder_sweep_age_seconds {sweep}");
        if let Ok(s) = store.status(&keys, crate::domain::calendar::amsterdam_date(chrono::Utc::now())).await {
            let oldest = age(s.oldest_unsent_at.unwrap_or(0));
            let _ = writeln!(out, "# HELP klachtd_outbox_oldest_unsent_age_seconds Age of the oldest mail waiting to be sent (-1: none)\n# TYPE klachtd_outbox_oldest_unsent_age_seconds gauge\nklachtd_outbox_oldest_unsent_age_seconds {oldest}");
            let _ = writeln!(out, "# HELP klachtd_open_cases Open cases, and those with a deadline due today or missed\n# TYPE klachtd_open_cases gauge");
            for (state, n) in [
                ("all", s.open_cases),
                ("acknowledgement_overdue", s.acknowledgement_overdue),
                ("progress_due", s.progress_due),
                ("response_due", s.response_due),
            ] {
                let _ = writeln!(out, "klachtd_open_cases{{state=\"{state}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "# HELP klachtd_quarantined_mails Mails in quarantine\n# TYPE klachtd_quarantined_mails gauge\nklachtd_quarantined_mails {}",
                s.quarantined
            );
            // Sent mail is the counter klachtd_mails_sent_total: counting the sent rows of all
            // the years at every scrape grows with the register.
            let _ = writeln!(out, "# HELP klachtd_outbox_mails Outgoing mails not sent, by status\n# TYPE klachtd_outbox_mails gauge");
            for (status, n) in [
                (OutboxStatus::Pending, s.outbox_pending),
                (OutboxStatus::Held, s.outbox_held),
                (OutboxStatus::Suppressed, s.outbox_suppressed),
                (OutboxStatus::Undeliverable, s.outbox_undeliverable),
            ] {
                let _ = writeln!(out, "klachtd_outbox_mails{{status=\"{status}\"}} {n}");
            }
        }
        self.per_mailbox(&mut out, store, mailboxes).await;
        out
    }
}

/// Serves `GET /metrics` on `addr` until shutdown (on axum, as the web workspace). Meant for
/// loopback; it answers nothing else.
pub async fn serve_metrics(
    addr: std::net::SocketAddr,
    health: std::sync::Arc<Health>,
    store: Store,
    mailboxes: Vec<MetricsMailbox>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    use axum::http::header;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics endpoint listening");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (health, store, mailboxes) = (health.clone(), store.clone(), mailboxes.clone());
            // One answer per connection, as before: a scraper's idle connection never holds up shutdown.
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4"), (header::CONNECTION, "close")], health.prometheus(&store, &mailboxes).await) }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}
