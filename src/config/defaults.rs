//! The default of each key that has one, named in the sections' `#[serde(default = "...")]`.

use std::path::PathBuf;

use super::sections::{AcknowledgeSince, AssignmentRule, LeadDays, LogFormat, MarkMode};

pub(super) fn default_session_hours() -> u32 {
    9
}

pub(super) fn default_term_months() -> u32 {
    12
}

pub(super) fn default_max_weeks() -> u32 {
    crate::domain::awb::LAW_MAX_POSTPONEMENT_WEEKS
}

pub(super) fn default_log_format() -> LogFormat {
    LogFormat::Auto
}

pub(super) fn default_retention_days() -> u32 {
    730
}

pub(super) fn default_retention_cron() -> String {
    "0 30 2 * * *".into()
}

pub(super) fn default_rule() -> AssignmentRule {
    AssignmentRule::RoundRobin
}

pub(super) fn default_lead_list() -> Vec<u32> {
    vec![2, 0]
}

pub(super) fn default_lead_days() -> LeadDays {
    LeadDays::Same(default_lead_list())
}

pub(super) fn default_working_hours() -> String {
    "08:30-17:00".into()
}

pub(super) fn default_sweep() -> String {
    "0 */5 * * * *".into()
}

pub(super) fn default_prefix() -> String {
    "KL".into()
}

pub(super) fn default_db_url() -> String {
    "sqlite:///var/lib/klachtd/klachtd.db".into()
}

pub(super) fn default_db_connections() -> u32 {
    5
}

pub(super) fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/klachtd")
}

pub(super) fn default_language() -> String {
    "nl".into()
}

pub(super) fn default_inbox() -> String {
    "INBOX".into()
}

pub(super) fn default_mark() -> MarkMode {
    MarkMode::Move
}

pub(super) fn default_processed() -> String {
    "Klachtd-Verwerkt".into()
}

pub(super) fn default_ignored() -> String {
    "Klachtd-Genegeerd".into()
}

pub(super) fn default_quarantine() -> String {
    "Klachtd-Quarantaine".into()
}

pub(super) fn yes() -> bool {
    true
}

pub(super) fn default_poll() -> u64 {
    60
}

pub(super) fn default_timeout() -> u64 {
    60
}

pub(super) fn default_idle_renew() -> u64 {
    180
}

pub(super) fn default_max_message() -> u64 {
    50 * 1024 * 1024
}

pub(super) fn default_ack_since() -> AcknowledgeSince {
    AcknowledgeSince::FirstStart
}

pub(super) fn default_sender_limit() -> u32 {
    5
}

pub(super) fn default_spam_filters() -> Vec<crate::domain::classify::SpamFilter> {
    use crate::domain::classify::SpamFilter;
    vec![SpamFilter::SpamAssassin, SpamFilter::Rspamd, SpamFilter::Microsoft]
}

pub(super) fn default_min_scl() -> u8 {
    5
}

pub(super) fn default_outbox_poll() -> u64 {
    30
}

pub(super) fn default_backlog_hold() -> u64 {
    30
}

pub(super) fn default_max_backoff() -> u64 {
    3600
}
