//! What a sender's address says: the families of addresses machines send from.

/// The kind of machine address a sender's address is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    /// `MAILER-DAEMON`, `mail-daemon`, `bounce*`: only mail servers write from these. Strong.
    Daemon,
    /// `postmaster`: reports, and administrators. Weak.
    Postmaster,
    /// A list manager's robot: `mailman`, `listserv`, `sympa`, `majordomo`, `*-request`,
    /// `*-bounces`. Strong.
    ListRobot,
    /// A list owner or admin: people answer there too. Weak.
    ListRole,
    /// A no-reply address in any language. Weak, unless of a known platform.
    NoReply,
    /// `notification(s)`, `alerts`, `notificaties`. Weak, unless of a known platform.
    Notifications,
    /// A newsletter's or marketing sender's address. Weak.
    Newsletter,
    /// A system account: `root`, `cron`, `daemon`, `www-data`, `nobody`, a database's. Weak.
    SystemAccount,
    /// A website's or web form's own address. Weak: the person is in the form's text or
    /// `Reply-To`.
    Form,
}

/// The local part, lower-cased, without a `+tag`, with `-`, `_` and `.` squashed out.
fn squashed_local(address: &str) -> (String, String) {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l).to_ascii_lowercase();
    let local = local.split('+').next().unwrap_or("").to_string();
    let squashed = local.chars().filter(|c| !matches!(c, '-' | '_' | '.')).collect();
    (local, squashed)
}

/// The family of machine addresses `address` belongs to, checked from the most specific.
pub(super) fn family(address: &str) -> Option<Family> {
    let (local, squashed) = squashed_local(address);
    // mlmmj and ezmlm name their robots by a `+` tag: `list+owner@`, `list+bounces-help@`.
    let whole = address.rsplit_once('@').map_or(address, |(l, _)| l).to_ascii_lowercase();
    if let Some((_, tag)) = whole.split_once('+') {
        if tag == "owner" || tag.starts_with("bounces") || matches!(tag, "help" | "subscribe" | "unsubscribe" | "request") {
            return Some(Family::ListRobot);
        }
    }
    // `bounce@`, `bounces-123@`, `bounce.list@`; not a bouncy castle's rental (`bouncekasteel@`).
    let bounce = local
        .strip_prefix("bounces")
        .or_else(|| local.strip_prefix("bounce"))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.', '_', '+']) || rest.bytes().all(|b| b.is_ascii_digit()));
    if matches!(squashed.as_str(), "mailerdaemon" | "maildaemon" | "mailerdeamon") || bounce {
        return Some(Family::Daemon);
    }
    if squashed == "postmaster" {
        return Some(Family::Postmaster);
    }
    if matches!(squashed.as_str(), "mailman" | "listserv" | "sympa" | "majordomo" | "listmaster" | "ezmlm")
        || local.ends_with("-request")
        || local.ends_with("-bounces")
        || local.contains("-bounces-")
    {
        return Some(Family::ListRobot);
    }
    if NO_REPLY.iter().any(|n| squashed.contains(n)) {
        return Some(Family::NoReply);
    }
    if matches!(
        squashed.as_str(),
        "notifications" | "notification" | "notificaties" | "notificatie" | "notify" | "alerts" | "alert" | "meldingen" | "benachrichtigung"
    ) {
        return Some(Family::Notifications);
    }
    if local.ends_with("-owner") || local.starts_with("owner-") || local.ends_with("-admin") {
        return Some(Family::ListRole);
    }
    if NEWS.contains(&squashed.as_str()) || ["notificacion", "notificaccion", "notification", "newsletter", "nieuwsbrief"].iter().any(|n| squashed.contains(n))
    {
        return Some(Family::Newsletter);
    }
    if ACCOUNTS.contains(&squashed.as_str()) {
        return Some(Family::SystemAccount);
    }
    if FORM.contains(&squashed.as_str()) || squashed.starts_with("webform") || squashed.starts_with("wordpress") {
        return Some(Family::Form);
    }
    None
}

/// No-reply local parts (squashed) in any language; contained anywhere in the local part.
const NO_REPLY: &[&str] = &[
    "noreply",
    "donotreply",
    "dontreply",
    "noresponse",
    "noanswer",
    "nietbeantwoorden",
    "nietantwoorden",
    "geenantwoord",
    "nietreageren",
    "geenreply",
    "nepasrepondre",
    "nepasrépondre",
    "nichtantworten",
    "keineantwort",
    "noresponder",
    "naoresponda",
    "nonrispondere",
    "svarainte",
    "unmonitored",
];

/// Newsletter and marketing local parts (squashed), matched whole.
const NEWS: &[&str] = &[
    "news",
    "enews",
    "newsletter",
    "newsletters",
    "nieuws",
    "nieuwsbrief",
    "mailing",
    "mailings",
    "marketing",
    "promo",
    "promotions",
    "aanbiedingen",
    "offers",
    "deals",
    "digest",
];

/// System accounts (squashed), matched whole.
const ACCOUNTS: &[&str] = &[
    "root",
    "cron",
    "crond",
    "daemon",
    "wwwdata",
    "nobody",
    "apache",
    "nginx",
    "oracle",
    "postgres",
    "mysql",
    "nagios",
    "zabbix",
    "icinga",
    "monitoring",
    "backup",
    "jenkins",
    "system",
    "systeem",
];

/// A website's or web form's own local parts (squashed), matched whole.
const FORM: &[&str] = &[
    "website",
    "web",
    "www",
    "wordpress",
    "wp",
    "webform",
    "webforms",
    "webformulier",
    "form",
    "forms",
    "formulier",
    "formulieren",
    "contactformulier",
    "contactform",
    "formmailer",
    "drupal",
    "joomla",
    "wpforms",
    "site",
    "webserver",
];

/// The address families machines send from: no-reply in any language, `notification(s)@`,
/// `bounce*@`, `mailer-daemon@`, `postmaster@`.
pub fn is_system_sender(address: &str) -> bool {
    matches!(family(&address.to_ascii_lowercase()), Some(Family::Daemon | Family::Postmaster | Family::NoReply | Family::Notifications))
}

/// A Return-Path of the bounce-handling kind: `bounce*`, `*-bounces`, `bounces+...`, not a
/// forwarder's SRS address.
pub(super) fn bounce_return_path(address: &str) -> bool {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l).to_ascii_lowercase();
    let bounce = ["bounce", "-bounce", ".bounce", "_bounce", "+bounce"];
    !local.starts_with("srs0=")
        && !local.starts_with("srs1=")
        && (bounce.iter().any(|b| local.contains(b)) || matches!(family(address), Some(Family::NoReply | Family::Daemon)))
}

/// Role addresses: an organisation's mailbox, not a person who filled in a form.
pub(super) fn is_role(address: &str) -> bool {
    let (_, squashed) = squashed_local(address);
    const ROLES: &[&str] = &[
        "info",
        "support",
        "service",
        "klantenservice",
        "klantcontact",
        "contact",
        "helpdesk",
        "servicedesk",
        "sales",
        "office",
        "admin",
        "team",
        "hello",
        "hallo",
        "marketing",
        "news",
        "nieuws",
        "nieuwsbrief",
        "newsletter",
        "reply",
        "replies",
        "feedback",
        "communicatie",
        "secretariaat",
        "receptie",
        "billing",
        "facturen",
        "administratie",
        "purchasing",
        "procurement",
        "inkoop",
        "orders",
        "bestellingen",
        "accounts",
        "finance",
        "hr",
        "jobs",
        "vacatures",
        "privacy",
        "security",
        "abuse",
        "webmaster",
    ];
    ROLES.contains(&squashed.as_str())
}

/// Domains whose no-reply and notification addresses are known machines: Dutch government
/// services, the big platforms, carriers, banks and signing services. A subdomain counts.
const KNOWN_PLATFORMS: &[&str] = &[
    "mijnoverheid.nl",
    "digid.nl",
    "belastingdienst.nl",
    "toeslagen.nl",
    "uwv.nl",
    "svb.nl",
    "duo.nl",
    "kvk.nl",
    "rdw.nl",
    "rvo.nl",
    "logius.nl",
    "overheid.nl",
    "cjib.nl",
    "eherkenning.nl",
    "postnl.nl",
    "dhl.com",
    "dhl.nl",
    "dpd.nl",
    "ing.nl",
    "rabobank.nl",
    "abnamro.nl",
    "asnbank.nl",
    "snsbank.nl",
    "bunq.com",
    "knab.nl",
    "microsoft.com",
    "office.com",
    "office365.com",
    "sharepointonline.com",
    "microsoftonline.com",
    "google.com",
    "accounts.google.com",
    "apple.com",
    "zoom.us",
    "docusign.net",
    "docusign.com",
    "adobesign.com",
    "echosign.com",
    "github.com",
    "gitlab.com",
    "atlassian.net",
    "atlassian.com",
    "slack.com",
    "linkedin.com",
    "facebookmail.com",
    "amazon.com",
    "amazonses.com",
    "amazonaws.com",
    "webex.com",
    "gotomeeting.com",
    "dropbox.com",
    "wetransfer.com",
    "service-now.com",
    "zendesk.com",
    "freshdesk.com",
    "topdesk.net",
    "paypal.com",
    "paypal.nl",
];

/// Domains that only machines send from, whatever the local part: signing services'
/// envelopes, social networks' notifications, the government's message box.
const MACHINE_ONLY: &[&str] =
    &["docusign.net", "echosign.com", "adobesign.com", "facebookmail.com", "mijnoverheid.nl", "digid.nl", "sharepointonline.com", "amazonses.com"];

pub(super) fn machine_only_domain(address: &str) -> bool {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    MACHINE_ONLY.iter().any(|k| domain == *k || domain.strip_suffix(k).is_some_and(|rest| rest.ends_with('.')))
}

pub(super) fn known_platform(address: &str) -> bool {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    KNOWN_PLATFORMS.iter().any(|k| domain == *k || domain.strip_suffix(k).is_some_and(|rest| rest.ends_with('.')))
}
