//! Weak evidence that a machine made a mail, and the set of it that holds a mail for a person.

/// A weak sign of machine mail. Alone or together, weak signals never silence a mail; they hold
/// it in quarantine for a person (see [`Signals::holds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeakSignal {
    /// A no-reply address, in any language (`noreply@`, `niet-beantwoorden@`, `geen-antwoord@`,
    /// `ne-pas-repondre@`, `nicht-antworten@`, ...) of no known platform.
    NoReplySender,
    /// `notification(s)@`, `alerts@`, `notificaties@` and the like.
    NotificationSender,
    /// A web form's or CMS's own address (`website@`, `wordpress@`, `webform@`) or mailer.
    FormSender,
    /// A list's owner or admin address (`-owner@`, `-admin@`, `owner-`).
    ListRoleSender,
    /// `postmaster@`: mail servers' reports come from it, but so do administrators' letters.
    PostmasterSender,
    /// A newsletter's or marketing sender's address (`news@`, `nieuwsbrief@`, `enews@`,
    /// `*notificacion*`).
    NewsletterSender,
    /// A Return-Path of the bounce-handling kind (`bounces@`, `bounce-123@`): mass mailers
    /// and list servers collect their bounces so.
    BounceReturnPath,
    /// `Precedence: bulk`, `list` or `junk` with no other sign of list or bulk mail: some
    /// forwarding services add it to every mail they pass on.
    BulkPrecedence,
    /// `List-Id` and other list headers on a person's mail: a list or group passed it on
    /// (also a group address that forwards to the complaints mailbox).
    ListHeaders,
    /// A system account as sender (`root@`, `cron@`, `daemon@`, `www-data@`, `oracle@`).
    SystemAccountSender,
    /// No sender address at all: nobody to answer.
    NoSender,
    /// A programming library's mailer (`X-Mailer: Microsoft CDO`, `MIME::Lite`, `JavaMail`,
    /// `Swift Mailer`, `nodemailer`): a program wrote it, not a mail client.
    ProgramMailer,
    /// A spam filter's tag in the subject (`***SPAM***`, `[SPAM]`) of a filter klachtd is not
    /// told to trust.
    SpamTag,
    /// `Feedback-ID`: bulk senders' feedback loop, but also on all mail of Proton Mail and
    /// Fastmail users. A hint.
    FeedbackId,
    /// `List-Unsubscribe` without list headers: some personal mail services add it. A hint.
    ListUnsubscribe,
    /// The headers of a transactional mail service (SendGrid, Mailgun, Amazon SES, Postmark,
    /// SparkPost, Mailjet): also relays for small offices. A hint.
    MailService,
    /// `X-Auto-Response-Suppress`: the sender asks not to be answered automatically. A hint.
    AutoResponseSuppress,
    /// A subject of an automatic reply ("Automatic reply:", "Out of Office:", "Afwezig:").
    AutoReplySubject,
    /// A subject of a delivery report ("Undeliverable:", "Mail delivery failed", "Onbestelbaar:").
    ReportSubject,
    /// A newsletter's HTML: an unsubscribe or view-online link, a tracking pixel.
    NewsletterLayout,
    /// A notification's wording in the mail's own text ("dit is een automatisch gegenereerd
    /// bericht", "please do not reply to this email").
    NotificationWording,
    /// The headers or mailer of a ticket system (Jira, ServiceNow, Zendesk, Freshdesk, TOPdesk,
    /// OTRS/Znuny/OTOBO, Zammad, RT): a system's notice, or an agent's answer through it.
    TicketSystem,
    /// A challenge-response check's wording ("please confirm your message").
    ChallengeWording,
    /// A calendar invitation or delivery report attached beside little or no text of the
    /// sender's own, or an invitation of someone else's.
    MachinePart,
    /// A person in `Reply-To` of a mail with strong machine evidence of another kind.
    Disagreeing,
}

impl WeakSignal {
    pub const ALL: [WeakSignal; 25] = [
        WeakSignal::NoReplySender,
        WeakSignal::NotificationSender,
        WeakSignal::FormSender,
        WeakSignal::ListRoleSender,
        WeakSignal::PostmasterSender,
        WeakSignal::NewsletterSender,
        WeakSignal::BounceReturnPath,
        WeakSignal::BulkPrecedence,
        WeakSignal::ListHeaders,
        WeakSignal::SystemAccountSender,
        WeakSignal::NoSender,
        WeakSignal::ProgramMailer,
        WeakSignal::SpamTag,
        WeakSignal::FeedbackId,
        WeakSignal::ListUnsubscribe,
        WeakSignal::MailService,
        WeakSignal::AutoResponseSuppress,
        WeakSignal::AutoReplySubject,
        WeakSignal::ReportSubject,
        WeakSignal::NewsletterLayout,
        WeakSignal::NotificationWording,
        WeakSignal::TicketSystem,
        WeakSignal::ChallengeWording,
        WeakSignal::MachinePart,
        WeakSignal::Disagreeing,
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Whether the signal is about the machine that sent the mail (its address, mailer, envelope
    /// or service), which a web form is: no evidence against the person who filled it in.
    pub fn is_about_sender(self) -> bool {
        matches!(
            self,
            WeakSignal::NoReplySender
                | WeakSignal::NotificationSender
                | WeakSignal::FormSender
                | WeakSignal::SystemAccountSender
                | WeakSignal::ProgramMailer
                | WeakSignal::BounceReturnPath
                | WeakSignal::MailService
        )
    }

    /// A hint counts only together with another signal.
    pub fn is_hint(self) -> bool {
        matches!(self, WeakSignal::FeedbackId | WeakSignal::ListUnsubscribe | WeakSignal::MailService | WeakSignal::AutoResponseSuppress)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WeakSignal::NoReplySender => "no-reply-sender",
            WeakSignal::NotificationSender => "notification-sender",
            WeakSignal::FormSender => "form-sender",
            WeakSignal::ListRoleSender => "list-role-sender",
            WeakSignal::PostmasterSender => "postmaster-sender",
            WeakSignal::NewsletterSender => "newsletter-sender",
            WeakSignal::BounceReturnPath => "bounce-return-path",
            WeakSignal::BulkPrecedence => "bulk-precedence",
            WeakSignal::ListHeaders => "list-headers",
            WeakSignal::SystemAccountSender => "system-account-sender",
            WeakSignal::NoSender => "no-sender",
            WeakSignal::ProgramMailer => "program-mailer",
            WeakSignal::SpamTag => "spam-tag",
            WeakSignal::ReportSubject => "report-subject",
            WeakSignal::FeedbackId => "feedback-id",
            WeakSignal::ListUnsubscribe => "list-unsubscribe",
            WeakSignal::MailService => "mail-service",
            WeakSignal::AutoResponseSuppress => "auto-response-suppress",
            WeakSignal::AutoReplySubject => "auto-reply-subject",
            WeakSignal::NewsletterLayout => "newsletter-layout",
            WeakSignal::NotificationWording => "notification-wording",
            WeakSignal::TicketSystem => "ticket-system",
            WeakSignal::ChallengeWording => "challenge-wording",
            WeakSignal::MachinePart => "machine-part",
            WeakSignal::Disagreeing => "disagreeing",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            WeakSignal::NoReplySender => "sent from a no-reply address",
            WeakSignal::NotificationSender => "sent from a notification address",
            WeakSignal::FormSender => "sent by a web form or website without the person's address",
            WeakSignal::ListRoleSender => "sent from a list owner's address",
            WeakSignal::PostmasterSender => "sent from a postmaster address",
            WeakSignal::NewsletterSender => "sent from a newsletter or marketing address",
            WeakSignal::BounceReturnPath => "a mass mailer's bounce address as Return-Path",
            WeakSignal::BulkPrecedence => "marked as bulk mail (Precedence) with no other sign of bulk mail",
            WeakSignal::ListHeaders => "passed on by a mailing list or group (List-Id)",
            WeakSignal::SystemAccountSender => "sent from a system account (root, cron, daemon, ...)",
            WeakSignal::NoSender => "no sender address",
            WeakSignal::ProgramMailer => "written by a program (its mailer library), not a mail client",
            WeakSignal::SpamTag => "tagged as spam in the subject",
            WeakSignal::ReportSubject => "the subject of a delivery report",
            WeakSignal::FeedbackId => "a bulk sender's Feedback-ID",
            WeakSignal::ListUnsubscribe => "a List-Unsubscribe header",
            WeakSignal::MailService => "sent through a bulk mail service",
            WeakSignal::AutoResponseSuppress => "asks not to be answered automatically",
            WeakSignal::AutoReplySubject => "the subject of an automatic reply",
            WeakSignal::NewsletterLayout => "a newsletter's layout (unsubscribe link, tracking pixel)",
            WeakSignal::NotificationWording => "a notification's wording (automatically sent, do not reply)",
            WeakSignal::TicketSystem => "sent by a ticket system",
            WeakSignal::ChallengeWording => "asks to confirm the sender (challenge-response)",
            WeakSignal::MachinePart => "a calendar invitation or delivery report beside little text of the sender's own",
            WeakSignal::Disagreeing => "a person in Reply-To of a mail marked as sent automatically",
        }
    }
}

/// A set of weak signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signals(u32);

impl Signals {
    pub fn insert(&mut self, signal: WeakSignal) {
        self.0 |= signal.bit();
    }

    pub fn remove(&mut self, signal: WeakSignal) {
        self.0 &= !signal.bit();
    }

    pub fn contains(self, signal: WeakSignal) -> bool {
        self.0 & signal.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = WeakSignal> {
        WeakSignal::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Whether these signals hold a mail for a person: one signal that is no hint, or two
    /// hints together.
    pub fn holds(self) -> bool {
        self.iter().any(|s| !s.is_hint()) || self.iter().count() >= 2
    }

    /// The signals as recorded: their names joined by commas.
    pub fn as_string(self) -> String {
        self.iter().map(WeakSignal::as_str).collect::<Vec<_>>().join(",")
    }
}

impl FromIterator<WeakSignal> for Signals {
    fn from_iter<I: IntoIterator<Item = WeakSignal>>(iter: I) -> Self {
        let mut set = Signals::default();
        for s in iter {
            set.insert(s);
        }
        set
    }
}
