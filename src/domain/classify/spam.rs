//! The verdicts of spam filters in front of the mailbox that the configuration trusts.

use crate::domain::inbound::InboundMail;

/// A spam filter in front of the mailbox whose verdict klachtd can be told to trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpamFilter {
    /// `X-Spam-Flag: YES` or `X-Spam-Status: Yes, ...`.
    SpamAssassin,
    /// `X-Spamd-Result: default: True [...]` or `X-Spam: Yes`.
    Rspamd,
    /// `X-Forefront-Antispam-Report` with `SFV:SPM` or an SCL at or above the threshold.
    Microsoft,
}

impl SpamFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            SpamFilter::SpamAssassin => "spamassassin",
            SpamFilter::Rspamd => "rspamd",
            SpamFilter::Microsoft => "microsoft",
        }
    }
}

/// Whose spam verdict counts (the configuration's `intake.spam`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamPolicy {
    pub trusted: Vec<SpamFilter>,
    /// Microsoft's spam confidence level (0-9) from which a mail counts as spam.
    pub microsoft_min_scl: u8,
}

/// The filter among `policy.trusted` that flags this mail as spam. Only the topmost header of
/// each name counts: it was added by the server nearest to the mailbox, not by the sender's side.
pub fn spam_verdict(mail: &InboundMail, policy: &SpamPolicy) -> Option<SpamFilter> {
    let yes = |v: Option<&str>| v.is_some_and(|v| v.trim().get(..3).is_some_and(|p| p.eq_ignore_ascii_case("yes")));
    policy.trusted.iter().copied().find(|filter| match filter {
        SpamFilter::SpamAssassin => yes(mail.header("x-spam-flag")) || yes(mail.header("x-spam-status")),
        SpamFilter::Rspamd => {
            mail.header("x-spamd-result").is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("default: true")) || yes(mail.header("x-spam"))
        }
        // DIR:OUT is the sender's tenant scanning its own outgoing mail, not our filter.
        SpamFilter::Microsoft => mail.header("x-forefront-antispam-report").is_some_and(|report| {
            let outbound = report.split(';').any(|f| f.trim().eq_ignore_ascii_case("dir:out"));
            !outbound
                && report.split(';').any(|field| match field.trim().split_once(':') {
                    Some((k, v)) if k.trim().eq_ignore_ascii_case("scl") => v.trim().parse::<u8>().is_ok_and(|scl| scl >= policy.microsoft_min_scl),
                    Some((k, v)) if k.trim().eq_ignore_ascii_case("sfv") => v.trim().eq_ignore_ascii_case("spm"),
                    _ => false,
                })
        }),
    })
}
