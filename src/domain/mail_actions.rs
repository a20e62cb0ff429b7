//! Actions by e-mail: a handler replies to a case notification, and the first line of the reply
//! says what to do. A forged From is not enough: the subject must carry a token that is the
//! HMAC of the case reference and the handler's address under a secret only klachtd knows.

use ring::hmac;

use super::inbound::hex;
use super::procedure::Outcome;

/// What a handler asked for in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailCommand {
    Progress { expected_by: chrono::NaiveDate, message: String },
    RequestInformation { message: String },
    Respond { outcome: Outcome, findings: String, measures: String },
    Note { text: String },
}

/// The token for `reference` and `handler_email`: 20 hex digits of HMAC-SHA256.
pub fn token(secret: &[u8], reference: &str, handler_email: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, format!("{}|{}", reference.to_ascii_uppercase(), handler_email.trim().to_ascii_lowercase()).as_bytes());
    hex(&tag.as_ref()[..10])
}

/// Whether `candidate` is the token for this reference and handler (constant time).
pub fn verify(secret: &[u8], reference: &str, handler_email: &str, candidate: &str) -> bool {
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
/// letter's text. Quoted text (lines starting with `>`, and everything after "... wrote:" or
/// "... schreef:") is left out.
pub fn parse(body: &str) -> Result<MailCommand, String> {
    let mut lines = Vec::new();
    for line in body.lines() {
        let t = line.trim_end();
        let lower = t.to_lowercase();
        if t.starts_with('>') {
            continue;
        }
        if lower.ends_with("wrote:") || lower.ends_with("schreef:") || lower.starts_with("-----original message") || lower.starts_with("-----oorspronkelijk bericht") {
            break;
        }
        lines.push(t);
    }
    while lines.first().is_some_and(|l| l.trim().is_empty()) {
        lines.remove(0);
    }
    let Some(first) = lines.first() else { return Err("the reply is empty; its first line must name an action".into()) };
    let mut words = first.split_whitespace();
    let verb = words.next().unwrap_or("").to_uppercase();
    let argument = words.next().unwrap_or("");
    let rest = lines[1..].join("\n").trim().to_string();
    match verb.as_str() {
        "VOORTGANG" | "PROGRESS" => {
            let expected_by = chrono::NaiveDate::parse_from_str(argument, "%Y-%m-%d").map_err(|_| format!("{verb} needs the expected handling date as YYYY-MM-DD, e.g. \"{verb} 2026-12-15\""))?;
            Ok(MailCommand::Progress { expected_by, message: rest })
        }
        "INFO" | "VRAAG" => {
            if rest.is_empty() {
                return Err("the request for information is empty; write it below the first line".into());
            }
            Ok(MailCommand::RequestInformation { message: rest })
        }
        "REACTIE" | "RESPOND" => {
            let outcome: Outcome = argument.parse()?;
            let (findings, measures) = split_measures(&rest);
            if findings.is_empty() {
                return Err("the final response needs findings below the first line".into());
            }
            Ok(MailCommand::Respond { outcome, findings, measures })
        }
        "NOTITIE" | "NOTE" => {
            if rest.is_empty() {
                return Err("the note is empty".into());
            }
            Ok(MailCommand::Note { text: rest })
        }
        _ => Err(format!("{:?} is not an action; start the reply with VOORTGANG, INFO, REACTIE or NOTITIE", first.trim())),
    }
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
        if in_measures { measures.push(line) } else { findings.push(line) }
    }
    (findings.join("\n").trim().to_string(), measures.join("\n").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_case_and_handler() {
        let t = token(b"geheim", "KL-2026-0001", "Ann@Dienst.nl");
        assert_eq!(t.len(), 20);
        assert!(verify(b"geheim", "kl-2026-0001", "ann@dienst.nl", &t));
        assert!(!verify(b"geheim", "KL-2026-0002", "ann@dienst.nl", &t), "another case");
        assert!(!verify(b"geheim", "KL-2026-0001", "bob@dienst.nl", &t), "another handler");
        assert!(!verify(b"ander", "KL-2026-0001", "ann@dienst.nl", &t), "another secret");
        assert_eq!(token_in(&format!("Re: [KL-2026-0001] Toegewezen {}", marker(&t))), Some(t.as_str()));
        assert_eq!(token_in("Re: {actie:xyz}"), None);
    }

    #[test]
    fn commands_are_read_from_the_first_line() {
        let p = parse("VOORTGANG 2026-12-15\nWe spreken de coach.\n\nOp 1 dec schreef:\n> oud").unwrap();
        assert_eq!(p, MailCommand::Progress { expected_by: chrono::NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(), message: "We spreken de coach.".into() });
        let r = parse("\nreactie partly-founded\nDeels juist.\nMAATREGELEN:\nNieuwe werkwijze.\n> quoted").unwrap();
        assert_eq!(r, MailCommand::Respond { outcome: Outcome::PartlyFounded, findings: "Deels juist.".into(), measures: "Nieuwe werkwijze.".into() });
        assert_eq!(parse("NOTE\nbelde klager").unwrap(), MailCommand::Note { text: "belde klager".into() });
        assert_eq!(parse("INFO\nWanneer was dat?").unwrap(), MailCommand::RequestInformation { message: "Wanneer was dat?".into() });
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        assert!(parse("VOORTGANG morgen").unwrap_err().contains("YYYY-MM-DD"));
        assert!(parse("REACTIE half\nx").unwrap_err().contains("not an outcome"));
        assert!(parse("REACTIE founded\n").unwrap_err().contains("findings"));
        assert!(parse("Hallo,\nhoe gaat het").unwrap_err().contains("not an action"));
        assert!(parse("> alleen citaat").unwrap_err().contains("empty"));
    }
}
