//! Actions by e-mail: a handler replies to a case notification, and the first line of the reply
//! says what to do. A forged From is not enough: the subject must carry a token that is the
//! HMAC of the case reference and the handler's address under a secret only klachtd knows.

use ring::hmac;

use super::awb::{NoHearingGround, NotHandledGround};
use super::case_action::{amsterdam_moment, gap, CaseAction, Hearing, Unreadable};
use super::inbound::hex;
use super::procedure::Outcome;
use super::reference::CaseRef;
use super::vocabulary::EmailAddress;

/// The token for `reference` and `handler_email`: 20 hex digits of HMAC-SHA256.
pub fn token(secret: &[u8], reference: &CaseRef, handler_email: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, format!("{reference}|{}", handler_email.trim().to_ascii_lowercase()).as_bytes());
    hex(&tag.as_ref()[..10])
}

/// Whether `candidate` is the token for this reference and handler (constant time).
pub fn verify(secret: &[u8], reference: &CaseRef, handler_email: &str, candidate: &str) -> bool {
    let expected = token(secret, reference, handler_email);
    let candidate = candidate.to_ascii_lowercase();
    // Compare without an early exit, so timing does not tell how much of a guess was right.
    expected.len() == candidate.len() && expected.bytes().zip(candidate.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The marker that carries a token in a subject line.
pub fn marker(token: &str) -> String {
    format!("{{actie:{token}}}")
}

/// The token in a subject, if any.
pub fn token_in(subject: &str) -> Option<&str> {
    let start = subject.find("{actie:")? + "{actie:".len();
    let len = subject[start..].find('}')?;
    let token = &subject[start..start + len];
    (token.len() == 20 && token.bytes().all(|b| b.is_ascii_hexdigit())).then_some(token)
}

/// Reads the command from a reply body: the first line names it, the lines after it are the
/// letter's text. Everything a mail client adds below the handler's own words ends the text:
/// quoted lines (`>`), an attribution ("Op ... schreef ...:", "On ... wrote:", also wrapped
/// over two lines), Outlook's separator line and header block ("Van:/Verzonden:/Aan:",
/// "From:/Sent:/To:"), "-----Original Message-----", a signature ("-- "), and, for HTML replies
/// whose `<blockquote>` is lost in conversion, the quoted notice itself (its subject with the
/// token marker, or its first sentence).
pub fn parse(body: &str) -> Result<CaseAction, Unreadable> {
    let mut lines = own_text(body);
    while lines.first().is_some_and(|l| l.trim().is_empty()) {
        lines.remove(0);
    }
    let Some(first) = lines.first() else { return Err("the reply is empty; its first line must name an action".into()) };
    let mut words = first.split_whitespace();
    let verb = words.next().unwrap_or("").to_uppercase();
    let argument = words.next().unwrap_or("");
    let rest_of_line = first.trim().split_once(char::is_whitespace).map_or("", |(_, r)| r.trim());
    let rest = lines[1..].join("\n").trim().to_string();
    match verb.as_str() {
        "VOORTGANG" | "PROGRESS" => {
            let expected_by = chrono::NaiveDate::parse_from_str(argument, "%Y-%m-%d")
                .map_err(|_| format!("{verb} needs the expected handling date as YYYY-MM-DD, e.g. \"{verb} 2026-12-15\""))?;
            Ok(CaseAction::Progress { expected_by, message: Some(rest).filter(|m| !m.is_empty()) })
        }
        "INFO" | "VRAAG" => {
            if rest.is_empty() {
                return Err("the request for information is empty; write it below the first line".into());
            }
            Ok(CaseAction::RequestInformation { message: rest, to: None })
        }
        "REACTIE" | "RESPOND" => {
            let outcome = parse_outcome(rest_of_line)?;
            let (findings, measures) = split_measures(&rest);
            if findings.is_empty() {
                return Err("the final response needs findings below the first line".into());
            }
            Ok(CaseAction::Respond { outcome, findings, measures })
        }
        "NOTITIE" | "NOTE" => {
            if rest.is_empty() {
                return Err("the note is empty".into());
            }
            Ok(CaseAction::Note { text: rest })
        }
        "UITSTEL" | "POSTPONE" => {
            let weeks = argument.parse::<u32>().map_err(|_| format!("{verb} needs the number of weeks, e.g. \"{verb} 4\", and the reason below it"))?;
            let (reason, consent) = split_consent(&rest);
            if reason.is_empty() {
                return Err("the postponement needs its reason below the first line".into());
            }
            Ok(CaseAction::Postpone { weeks, reason, consent })
        }
        "NIET-BEHANDELD" | "NOT-HANDLED" => {
            let ground = argument.parse::<NotHandledGround>()?;
            Ok(CaseAction::NotHandled { ground, explanation: rest })
        }
        "OPGELOST" | "SETTLED" => {
            if rest.is_empty() {
                return Err("write below the first line how the complaint was settled".into());
            }
            Ok(CaseAction::Settle { settlement: rest })
        }
        "AFSCHRIFT" | "DISCLOSE" => {
            if rest_of_line.is_empty() {
                return Err(format!("{verb} needs the name of the person the complaint is about, e.g. \"{verb} Bob Berg\"").into());
            }
            let email = rest.lines().map(str::trim).find(|l| !l.is_empty()).map(EmailAddress::parse).transpose()?;
            Ok(CaseAction::Disclose { name: rest_of_line.to_string(), email })
        }
        "HOORZITTING" | "HEARING" => hearing(&verb, rest_of_line, rest),
        "VERSLAG" | "HEARING-REPORT" => {
            if rest.is_empty() {
                return Err("the report of the hearing is empty; write it below the first line".into());
            }
            Ok(CaseAction::HearingReport { report: rest })
        }
        "GEEN-HOORZITTING" | "NO-HEARING" => Ok(CaseAction::NoHearing { ground: argument.parse::<NoHearingGround>()? }),
        _ => Err(Unreadable(format!(
            "{:?} is not an action; start the reply with VOORTGANG, INFO, REACTIE, NOTITIE, UITSTEL, NIET-BEHANDELD, OPGELOST, AFSCHRIFT, HOORZITTING, VERSLAG or GEEN-HOORZITTING",
            first.trim()
        ))),
    }
}

/// `HOORZITTING 2026-12-15 14:00 [MINUTES]` with the place (or a video link) below it: an
/// invitation with the default term to answer (5 working days), to the complainant only.
fn hearing(verb: &str, rest_of_line: &str, rest: String) -> Result<CaseAction, Unreadable> {
    let mut words = rest_of_line.split_whitespace();
    let moment = format!("{} {}", words.next().unwrap_or(""), words.next().unwrap_or(""));
    let at = chrono::NaiveDateTime::parse_from_str(&moment, "%Y-%m-%d %H:%M")
        .map_err(|_| format!("{verb} needs the date and time as YYYY-MM-DD HH:MM (and the minutes), e.g. \"{verb} 2026-12-15 14:00 60\""))?;
    let minutes = match words.next() {
        None => 60,
        Some(m) => m.parse().map_err(|_| format!("{m:?} is not a number of minutes"))?,
    };
    if rest.is_empty() {
        return Err("the invitation needs the place or a video link below the first line".into());
    }
    let start = amsterdam_moment(at).ok_or_else(|| gap(at))?;
    Ok(CaseAction::HearingInvite(Hearing { start, minutes, place: rest, answer_days: None, with_subjects: false }))
}

/// The outcome after `REACTIE`: the Dutch words (gegrond, deels gegrond, ongegrond) or the
/// English ones (founded, partly-founded, unfounded).
fn parse_outcome(text: &str) -> Result<Outcome, Unreadable> {
    let normalised = text.trim().to_lowercase().replace(['-', '_'], " ").split_whitespace().collect::<Vec<_>>().join(" ");
    match normalised.as_str() {
        "gegrond" | "founded" => Ok(Outcome::Founded),
        "deels gegrond" | "gedeeltelijk gegrond" | "partly founded" => Ok(Outcome::PartlyFounded),
        "ongegrond" | "unfounded" => Ok(Outcome::Unfounded),
        _ => Err(Unreadable(format!("{:?} is not an outcome; use gegrond, deels gegrond or ongegrond (or founded, partly-founded, unfounded)", text.trim()))),
    }
}

/// The handler's own lines of a reply: up to where quoted or added text starts, without
/// interleaved `>` lines.
fn own_text(body: &str) -> Vec<&str> {
    let all: Vec<&str> = body.lines().collect();
    let mut lines: Vec<&str> = Vec::new();
    let mut cut_at_notice = false;
    for (i, line) in all.iter().enumerate() {
        let t = line.trim_end();
        if t.trim_start().starts_with('>') {
            continue;
        }
        let lower = t.trim().to_lowercase();
        if *line == "-- " || t == "--" {
            break;
        }
        // Attributions and header blocks look like sentences a handler may write ("U schreef
        // ons het volgende:"); they end the text only when what follows quotes our notice.
        let next = all.get(i + 1).map(|n| n.trim().to_lowercase());
        let two_line_attribution =
            next.as_ref().is_some_and(|next| (lower.starts_with("op ") || lower.starts_with("on ")) && is_attribution(&format!("{lower} {next}")));
        if (is_separator(&lower) || is_attribution(&lower) || two_line_attribution || is_header_block(&all[i..])) && quotes_follow(&all[i..]) {
            break;
        }
        if is_quoted_notice(&lower) {
            cut_at_notice = true;
            break;
        }
        lines.push(t);
    }
    if cut_at_notice {
        // The notice opens with "Beste NAME," above the sentence that was recognised.
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        if lines.last().is_some_and(|l| is_greeting(&l.trim().to_lowercase())) {
            lines.pop();
        }
    }
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines
}

/// Whether `rest` holds a quote of our notice: `>` lines, its subject (with the marker), its
/// first sentence, or its greeting of the handler.
fn quotes_follow(rest: &[&str]) -> bool {
    rest.iter().any(|l| {
        let lower = l.trim().to_lowercase();
        lower.starts_with('>') || is_quoted_notice(&lower) || is_greeting(&lower)
    })
}

fn is_separator(lower: &str) -> bool {
    (lower.len() >= 8 && lower.chars().all(|c| c == '_'))
        || [
            "-----original message",
            "-----oorspronkelijk bericht",
            "begin forwarded message",
            "begin doorgestuurd bericht",
            "---------- forwarded message",
            "-------- doorgestuurd bericht",
            "---------- doorgestuurd bericht",
        ]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// "On Mon, 1 Dec 2026 at 10:00, Klachtd <...> wrote:", "Op 1 dec. 2026 schreef Klachtd <...>:",
/// Apple Mail's "Op 1 dec. 2026 om 10:00 heeft Klachtd het volgende geschreven:".
fn is_attribution(lower: &str) -> bool {
    lower.ends_with("wrote:")
        || lower.ends_with("schreef:")
        || lower.ends_with("geschreven:")
        || (lower.starts_with("op ") && lower.contains(" schreef ") && lower.ends_with(':'))
        || (lower.starts_with("on ") && lower.contains(" wrote ") && lower.ends_with(':'))
}

/// Outlook's header block of the quoted mail: "Van:" or "From:" with "Verzonden:", "Sent:",
/// "Datum:" or "Date:" among the next lines.
fn is_header_block(from_here: &[&str]) -> bool {
    let field = |l: &str, names: &[&str]| {
        let l = l.trim().to_lowercase();
        names.iter().any(|n| l.starts_with(n))
    };
    let Some(first) = from_here.first() else { return false };
    field(first, &["van:", "from:"]) && from_here.iter().skip(1).take(4).any(|l| field(l, &["verzonden:", "sent:", "datum:", "date:"]))
}

/// A line of our own notice quoted without a marker (an HTML `<blockquote>` turned into plain
/// lines): the subject with the token, or the notice's first sentence.
fn is_quoted_notice(lower: &str) -> bool {
    lower.contains("{actie:")
        || lower.contains("] klacht aan u toegewezen")
        || lower.contains("] complaint assigned to you")
        || (lower.starts_with("de klacht ") && lower.contains("is aan u toegewezen"))
        || (lower.starts_with("the complaint ") && lower.contains("has been assigned to you"))
}

fn is_greeting(lower: &str) -> bool {
    (lower.starts_with("beste ") || lower.starts_with("dear ")) && lower.ends_with(',')
}

/// Whether `text` carries an action token: the marker, or the token of this reply itself.
/// Such text must never reach a complainant (the token lets its holder act on the case).
pub fn carries_token(text: &str, token: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("{actie:") || (!token.is_empty() && lower.contains(&token.to_lowercase()))
}

/// The reason of a postponement, and the complainant's consent from a line that starts with
/// "TOESTEMMING:" or "CONSENT:" (the rest of that line and the lines after it).
fn split_consent(text: &str) -> (String, Option<String>) {
    let mut reason = Vec::new();
    let mut consent: Option<Vec<&str>> = None;
    for line in text.lines() {
        let upper = line.trim().to_uppercase();
        let tag = ["TOESTEMMING:", "CONSENT:"].into_iter().find(|t| upper.starts_with(t));
        match (tag, &mut consent) {
            (Some(tag), None) => consent = Some(vec![line.trim()[tag.len()..].trim()]),
            (_, Some(c)) => c.push(line),
            (None, None) => reason.push(line),
        }
    }
    let consent = consent.map(|c| c.join("\n").trim().to_string()).filter(|c| !c.is_empty());
    (reason.join("\n").trim().to_string(), consent)
}

/// Findings, then after a line "MAATREGELEN:" (or "MEASURES:") the measures.
fn split_measures(text: &str) -> (String, String) {
    let mut findings = Vec::new();
    let mut measures = Vec::new();
    let mut in_measures = false;
    for line in text.lines() {
        let upper = line.trim().to_uppercase();
        if upper == "MAATREGELEN:" || upper == "MEASURES:" {
            in_measures = true;
            continue;
        }
        if in_measures {
            measures.push(line)
        } else {
            findings.push(line)
        }
    }
    (findings.join("\n").trim().to_string(), measures.join("\n").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_case_and_handler() {
        let t = token(b"geheim", &CaseRef::parse_any("KL-2026-0001").unwrap(), "Ann@Dienst.nl");
        assert_eq!(t.len(), 20);
        assert!(verify(b"geheim", &CaseRef::parse_any("kl-2026-0001").unwrap(), "ann@dienst.nl", &t));
        assert!(!verify(b"geheim", &CaseRef::parse_any("KL-2026-0002").unwrap(), "ann@dienst.nl", &t), "another case");
        assert!(!verify(b"geheim", &CaseRef::parse_any("KL-2026-0001").unwrap(), "bob@dienst.nl", &t), "another handler");
        assert!(!verify(b"ander", &CaseRef::parse_any("KL-2026-0001").unwrap(), "ann@dienst.nl", &t), "another secret");
        assert_eq!(token_in(&format!("Re: [KL-2026-0001] Toegewezen {}", marker(&t))), Some(t.as_str()));
        assert_eq!(token_in("Re: {actie:xyz}"), None);
    }

    #[test]
    fn commands_are_read_from_the_first_line() {
        let p = parse("VOORTGANG 2026-12-15\nWe spreken de coach.\n\nOp 1 dec schreef:\n> oud").unwrap();
        assert_eq!(
            p,
            CaseAction::Progress { expected_by: chrono::NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(), message: Some("We spreken de coach.".into()) }
        );
        let r = parse("\nreactie partly-founded\nDeels juist.\nMAATREGELEN:\nNieuwe werkwijze.\n> quoted").unwrap();
        assert_eq!(r, CaseAction::Respond { outcome: Outcome::PartlyFounded, findings: "Deels juist.".into(), measures: "Nieuwe werkwijze.".into() });
        assert_eq!(parse("NOTE\nbelde klager").unwrap(), CaseAction::Note { text: "belde klager".into() });
        assert_eq!(parse("INFO\nWanneer was dat?").unwrap(), CaseAction::RequestInformation { message: "Wanneer was dat?".into(), to: None });
    }

    #[test]
    fn chapter_9_commands() {
        assert_eq!(
            parse("UITSTEL 3\nWe wachten op advies.\nTOESTEMMING: mail van klager van 2 december\n> quoted").unwrap(),
            CaseAction::Postpone { weeks: 3, reason: "We wachten op advies.".into(), consent: Some("mail van klager van 2 december".into()) }
        );
        assert_eq!(parse("postpone 1\nAdvice needed.").unwrap(), CaseAction::Postpone { weeks: 1, reason: "Advice needed.".into(), consent: None });
        assert!(parse("UITSTEL vier\nx").unwrap_err().0.contains("number of weeks"));
        assert!(parse("UITSTEL 2\nTOESTEMMING: ja").unwrap_err().0.contains("reason"));
        assert_eq!(
            parse("NIET-BEHANDELD over-a-year\nHet gesprek was in 2024.").unwrap(),
            CaseAction::NotHandled { ground: NotHandledGround::OverAYear, explanation: "Het gesprek was in 2024.".into() }
        );
        assert!(parse("NOT-HANDLED vague").unwrap_err().0.contains("ground of Awb 9:8"));
        assert_eq!(parse("OPGELOST\nU kreeg een nieuwe afspraak.").unwrap(), CaseAction::Settle { settlement: "U kreeg een nieuwe afspraak.".into() });
        assert!(parse("SETTLED\n").unwrap_err().0.contains("settled"));
        assert_eq!(parse("AFSCHRIFT Bob Berg").unwrap(), CaseAction::Disclose { name: "Bob Berg".into(), email: None });
        assert_eq!(
            parse("DISCLOSE Piet Extern\npiet@elders.test").unwrap(),
            CaseAction::Disclose { name: "Piet Extern".into(), email: Some(EmailAddress::parse("piet@elders.test").unwrap()) }
        );
        // 14:00 in Amsterdam in winter is 13:00 UTC; the answer term and the copies to staff
        // cannot be asked for by mail.
        let start = "2026-12-15T13:00:00Z".parse().unwrap();
        let hearing =
            |minutes, place: &str| CaseAction::HearingInvite(Hearing { start, minutes, place: place.into(), answer_days: None, with_subjects: false });
        assert_eq!(parse("HOORZITTING 2026-12-15 14:00 45\nKamer 3").unwrap(), hearing(45, "Kamer 3"));
        assert_eq!(parse("HEARING 2026-12-15 14:00\nhttps://video").unwrap(), hearing(60, "https://video"));
        assert!(parse("HOORZITTING 2026-03-29 02:30\nKamer 3").unwrap_err().0.contains("daylight-saving gap"));
        assert!(parse("HOORZITTING morgen\nKamer 3").unwrap_err().0.contains("YYYY-MM-DD HH:MM"));
        assert!(parse("HOORZITTING 2026-12-15 14:00").unwrap_err().0.contains("place"));
        assert_eq!(parse("VERSLAG\nKlager gehoord.").unwrap(), CaseAction::HearingReport { report: "Klager gehoord.".into() });
        assert_eq!(parse("GEEN-HOORZITTING not-wished").unwrap(), CaseAction::NoHearing { ground: NoHearingGround::NotWished });
        assert!(parse("NO-HEARING later").unwrap_err().0.contains("clearly-unfounded"));
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        assert!(parse("VOORTGANG morgen").unwrap_err().0.contains("YYYY-MM-DD"));
        assert!(parse("REACTIE half\nx").unwrap_err().0.contains("not an outcome"));
        assert!(parse("REACTIE founded\n").unwrap_err().0.contains("findings"));
        assert!(parse("Hallo,\nhoe gaat het").unwrap_err().0.contains("not an action"));
        assert!(parse("> alleen citaat").unwrap_err().0.contains("empty"));
        assert!(parse("REACTIE\nx").unwrap_err().0.contains("not an outcome"));
    }

    const T: &str = "0123456789abcdef0123";

    fn progress(message: &str) -> CaseAction {
        CaseAction::Progress {
            expected_by: chrono::NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            message: Some(message.to_string()).filter(|m| !m.is_empty()),
        }
    }

    #[test]
    fn dutch_and_english_outcomes() {
        for (word, outcome) in [
            ("gegrond", Outcome::Founded),
            ("Gegrond", Outcome::Founded),
            ("founded", Outcome::Founded),
            ("deels gegrond", Outcome::PartlyFounded),
            ("deels-gegrond", Outcome::PartlyFounded),
            ("DEELS  GEGROND", Outcome::PartlyFounded),
            ("partly-founded", Outcome::PartlyFounded),
            ("ongegrond", Outcome::Unfounded),
            ("unfounded", Outcome::Unfounded),
        ] {
            let r = parse(&format!("REACTIE {word}\nBevindingen.")).unwrap();
            assert_eq!(r, CaseAction::Respond { outcome, findings: "Bevindingen.".into(), measures: String::new() }, "{word}");
        }
        assert!(parse("REACTIE deels\nx").unwrap_err().0.contains("\"deels\" is not an outcome"));
    }

    #[test]
    fn outlook_nl_reply_ends_the_text() {
        let body = format!(
            "VOORTGANG 2026-12-15\nWe bellen u deze week.\n\nMet vriendelijke groet,\nAnn\n\n________________________________\nVan: Klachtenbehandeling <klachten@dienst.nl>\nVerzonden: maandag 1 december 2026 10:00\nAan: Ann Smit <ann@dienst.nl>\nOnderwerp: [KL-2026-0001] Klacht aan u toegewezen {}\n\nBeste Ann Smit,\n\nDe klacht KL-2026-0001 is aan u toegewezen.",
            marker(T)
        );
        assert_eq!(parse(&body).unwrap(), progress("We bellen u deze week.\n\nMet vriendelijke groet,\nAnn"));
    }

    #[test]
    fn outlook_en_reply_ends_the_text() {
        let body = format!(
            "PROGRESS 2026-12-15\nWe will call you this week.\n\n________________________________\nFrom: Complaints <klachten@dienst.nl>\nSent: Monday, December 1, 2026 10:00 AM\nTo: Ann Smit <ann@dienst.nl>\nSubject: [KL-2026-0001] Complaint assigned to you {}\n\nDear Ann Smit,",
            marker(T)
        );
        assert_eq!(parse(&body).unwrap(), progress("We will call you this week."));
    }

    #[test]
    fn outlook_html_reply_without_separator_ends_at_the_header_block() {
        // Outlook's HTML separator is an <hr>, which the HTML conversion drops.
        let html = format!(
            "<html><body><div>INFO</div><div>Wanneer was de afspraak?</div><hr><div id=\"divRplyFwdMsg\"><b>Van:</b> Klachten &lt;klachten@dienst.nl&gt;<br><b>Verzonden:</b> maandag 1 december 2026 10:00<br><b>Aan:</b> Ann<br><b>Onderwerp:</b> [KL-2026-0001] Klacht aan u toegewezen {}</div><div>Beste Ann Smit,</div></body></html>",
            marker(T)
        );
        let text = crate::domain::text::html_to_text(&html);
        assert_eq!(parse(&text).unwrap(), CaseAction::RequestInformation { message: "Wanneer was de afspraak?".into(), to: None });
    }

    #[test]
    fn gmail_attribution_over_two_lines_ends_the_text() {
        let en =
            "PROGRESS 2026-12-15\nWe will call you.\n\nOn Mon, Dec 1, 2026 at 10:00 AM Klachtenbehandeling <\nklachten@dienst.nl> wrote:\n\n> Dear Ann Smit,";
        assert_eq!(parse(en).unwrap(), progress("We will call you."));
        let en =
            "PROGRESS 2026-12-15\nWe will call you.\n\nOn Mon, Dec 1, 2026 at 10:00 AM Klachtenbehandeling <klachten@dienst.nl>\nwrote:\n\n> Dear Ann Smit,";
        assert_eq!(parse(en).unwrap(), progress("We will call you."));
        let nl = "VOORTGANG 2026-12-15\nWe bellen u.\n\nOp ma 1 dec. 2026 om 10:00 schreef Klachtenbehandeling <\nklachten@dienst.nl>:\n\n> Beste Ann Smit,";
        assert_eq!(parse(nl).unwrap(), progress("We bellen u."));
    }

    #[test]
    fn apple_mail_attribution_ends_the_text() {
        let one_line = "VOORTGANG 2026-12-15\nWe bellen u.\n\nOp 1 dec. 2026 om 10:00 schreef Klachtenbehandeling <klachten@dienst.nl>:\n\nBeste Ann Smit,";
        assert_eq!(parse(one_line).unwrap(), progress("We bellen u."));
        let geschreven = "VOORTGANG 2026-12-15\nWe bellen u.\n\nOp 1 dec. 2026, om 10:00 heeft Klachtenbehandeling <klachten@dienst.nl> het volgende geschreven:\n\nBeste Ann Smit,";
        assert_eq!(parse(geschreven).unwrap(), progress("We bellen u."));
    }

    #[test]
    fn sentences_that_look_like_attributions_stay_in_the_letter() {
        let findings = "Op 3 november schreef de coach in het dossier het volgende:\nde afspraak is verzet.\nU schreef ons:\ndat u niet werd gebeld.\nIn your complaint you wrote:\nthat nobody called.\nVan: de teamleider\nDatum: 4 november\n________\nDat klopt.";
        let r = parse(&format!("REACTIE gegrond\n{findings}")).unwrap();
        assert_eq!(r, CaseAction::Respond { outcome: Outcome::Founded, findings: findings.into(), measures: String::new() });
    }

    #[test]
    fn a_signature_ends_the_text() {
        // tidy_lines trims line ends, so "-- " may arrive as "--".
        for sep in ["-- ", "--"] {
            let body = format!("REACTIE ongegrond\nDe afspraak is nagekomen.\n{sep}\nAnn Smit\nTeamleider | 06-12345678");
            assert_eq!(
                parse(&body).unwrap(),
                CaseAction::Respond { outcome: Outcome::Unfounded, findings: "De afspraak is nagekomen.".into(), measures: String::new() }
            );
        }
    }

    #[test]
    fn html_blockquote_without_attribution_ends_at_the_quoted_notice() {
        let html = format!(
            "<div>VOORTGANG 2026-12-15</div><div>We bellen u.</div><blockquote><div>[KL-2026-0001] Klacht aan u toegewezen {}</div><div>Beste Ann Smit,</div><div>De klacht KL-2026-0001, ontvangen op 1 december 2026, is aan u toegewezen.</div></blockquote>",
            marker(T)
        );
        let text = crate::domain::text::html_to_text(&html);
        assert!(!text.contains('>'), "the conversion drops the blockquote: {text}");
        assert_eq!(parse(&text).unwrap(), progress("We bellen u."));
        // Only the notice's body quoted: cut at its first sentence, greeting included.
        let body =
            "VOORTGANG 2026-12-15\nWe bellen u.\n\nBeste Ann Smit,\n\nDe klacht KL-2026-0001, ontvangen op 1 december 2026, is aan u toegewezen.\nTermijnen:";
        assert_eq!(parse(body).unwrap(), progress("We bellen u."));
    }

    #[test]
    fn tokens_in_letter_text_are_recognised() {
        assert!(carries_token(&format!("tekst {}", marker(T)), T));
        assert!(carries_token("tekst {ACTIE:zzz}", T));
        assert!(carries_token(&format!("tekst {}", T.to_uppercase()), T));
        assert!(!carries_token("gewone tekst", T));
        assert_eq!(parse("NOTITIE\nintern").unwrap().letter_text(), None);
        assert_eq!(parse("INFO\nvraag").unwrap().letter_text().as_deref(), Some("vraag"));
    }
}
