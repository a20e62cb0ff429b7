//! Letters as `text/plain; format=flowed; delsp=no` (RFC 3676). A letter's template has each
//! paragraph on one line; [`flow`] wraps the filled-in text at [`WIDTH`] with soft line breaks
//! (a line that ends in a space goes on in the next), so a mail client joins the lines again
//! and reflows them to its window, and one that knows nothing of flowed text shows tidy lines
//! of at most 72 characters. Every transport sends these same bytes. Pure: no I/O.
//!
//! What is not wrapped: a word longer than the line (a URL, a reference: words are never
//! split, and a line breaks only at a space), a quoted line (`>`), an indented line (an
//! address block) and the lines after a signature separator (`-- `). A list item (`- `, `* `,
//! `1. `) is wrapped with its text's indent, with hard breaks, so it stays a list everywhere.

/// The longest line [`flow`] writes, without the space of a soft break.
pub const WIDTH: usize = 72;

/// The indent of a list item's text (`  - item` → 4), or `None` for a line that is no item.
fn list_indent(line: &str) -> Option<usize> {
    let lead = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[lead..];
    let marker = if rest.starts_with("- ") || rest.starts_with("* ") || rest.starts_with("• ") {
        rest.find(' ').map(|i| i + 1)
    } else {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        (digits > 0 && digits < 4 && (rest[digits..].starts_with(". ") || rest[digits..].starts_with(") "))).then_some(digits + 2)
    }?;
    Some(lead + rest[..marker].chars().count())
}

/// `words` as lines of at most `width` characters (a longer word alone on its line).
fn wrap_words<'a>(words: impl Iterator<Item = &'a str>, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut length = 0;
    for word in words {
        let n = word.chars().count();
        if length > 0 && length + 1 + n > width {
            lines.push(std::mem::take(&mut line));
            length = 0;
        }
        if length > 0 {
            line.push(' ');
            length += 1;
        }
        line.push_str(word);
        length += n;
    }
    if length > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A line as it goes out: space-stuffed when it starts with a space, `>` or `From `, so that
/// a flowed reader does not take it for a quote (RFC 3676, 4.4).
fn stuffed(line: &str) -> String {
    if line.starts_with(' ') || line.starts_with('>') || line.starts_with("From ") {
        format!(" {line}")
    } else {
        line.to_string()
    }
}

/// `text` (lines separated by `\n`) wrapped and encoded as `format=flowed; delsp=no`.
pub fn flow(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut signature = false;
    for raw in text.split('\n') {
        let raw = raw.trim_end_matches('\r');
        if raw == "-- " {
            signature = true;
            out.push(raw.to_string());
            continue;
        }
        // A hard line never ends in a space: that would make it a soft break.
        let line = raw.trim_end();
        let fits = line.chars().count() <= WIDTH;
        if signature || line.is_empty() || fits || line.starts_with('>') {
            out.push(stuffed(line));
        } else if let Some(indent) = list_indent(line) {
            let head: String = line.chars().take(indent).collect();
            let pad = " ".repeat(indent);
            let body: String = line.chars().skip(indent).collect();
            for (i, part) in wrap_words(body.split(' ').filter(|w| !w.is_empty()), WIDTH.saturating_sub(indent).max(20)).into_iter().enumerate() {
                out.push(stuffed(&format!("{}{part}", if i == 0 { &head } else { &pad })));
            }
        } else if line.starts_with(' ') {
            // An indented block (an address): kept as it is.
            out.push(stuffed(line));
        } else {
            let parts = wrap_words(line.split(' ').filter(|w| !w.is_empty()), WIDTH);
            let last = parts.len() - 1;
            for (i, part) in parts.into_iter().enumerate() {
                let soft = if i < last { " " } else { "" };
                out.push(stuffed(&format!("{part}{soft}")));
            }
        }
    }
    out.join("\n")
}

/// Flowed text read back (`delsp=no`): soft breaks joined, space-stuffing removed. The
/// paragraphs as they were before [`flow`], for tests and for reading our own letters.
pub fn unflow(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut joining = false;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        let line = line.strip_prefix(' ').unwrap_or(line);
        if !joining && !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
        joining = line.ends_with(' ') && line != "-- ";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAGRAPH: &str = "Wij hebben uw klacht op woensdag 30 september 2026 ontvangen. Uw klacht is geregistreerd onder kenmerk KL-2026-0001. Wilt u dit kenmerk vermelden als u ons over deze klacht schrijft?";

    #[test]
    fn a_paragraph_wraps_at_72_with_soft_breaks_and_reads_back() {
        let flowed = flow(PARAGRAPH);
        let lines: Vec<&str> = flowed.split('\n').collect();
        assert!(lines.len() >= 3, "{flowed}");
        for (i, line) in lines.iter().enumerate() {
            assert!(line.trim_end().chars().count() <= WIDTH, "{line:?}");
            // Every line but the last ends in the soft break's space; the last in none.
            assert_eq!(line.ends_with(' '), i + 1 < lines.len(), "{line:?}");
            // Each line is filled: the next line's first word would not have fitted.
            if let Some(next) = lines.get(i + 1) {
                let word = next.split(' ').next().unwrap();
                assert!(line.chars().count() + word.chars().count() > WIDTH, "ragged: {line:?} before {word:?}");
            }
        }
        assert_eq!(unflow(&flowed), PARAGRAPH);
        // The reference is never split.
        assert!(lines.iter().any(|l| l.contains("KL-2026-0001")));
    }

    #[test]
    fn short_lines_blank_lines_and_signatures_are_kept() {
        let text = "Geachte heer Jansen,\n\nMet vriendelijke groet,\n\nKlachtenbehandeling\nDienst Voorbeeld\n-- \nklachtd";
        assert_eq!(flow(text), text);
        assert_eq!(unflow(&flow(text)), text);
    }

    #[test]
    fn urls_and_long_words_are_never_broken() {
        let url = format!("https://dienst.example.nl/klachten/{}", "regeling-".repeat(8));
        let text = format!("U vindt onze klachtenregeling op {url} en verder nergens anders op het web.");
        let flowed = flow(&text);
        assert!(flowed.split('\n').any(|l| l.trim_end() == url), "{flowed}");
        assert_eq!(unflow(&flowed), text);
    }

    #[test]
    fn lines_that_a_reader_would_misread_are_space_stuffed() {
        let text =
            "> een citaat van de klager dat langer is dan tweeënzeventig tekens en niet wordt afgebroken\n  Nationale ombudsman\n  Postbus 93122\nFrom now on";
        let flowed = flow(text);
        assert_eq!(
            flowed,
            " > een citaat van de klager dat langer is dan tweeënzeventig tekens en niet wordt afgebroken\n   Nationale ombudsman\n   Postbus 93122\n From now on"
        );
        assert_eq!(unflow(&flowed), text);
        // A continuation that starts with "From " is stuffed too.
        let text = format!("{} From here", "woord ".repeat(12).trim_end());
        let flowed = flow(&text);
        assert!(flowed.contains("\n From here"), "{flowed}");
        assert_eq!(unflow(&flowed), text);
    }

    #[test]
    fn list_items_wrap_under_their_text_with_hard_breaks() {
        let item = "  - Uiterlijk vrijdag 18 december 2026 ontvangt u onze schriftelijke reactie met onze bevindingen en de maatregelen.";
        let flowed = flow(item);
        let lines: Vec<&str> = flowed.split('\n').collect();
        assert_eq!(lines.len(), 2, "{flowed}");
        // Stuffed (they start with a space), no soft break, the second under the first's text.
        assert!(lines[0].starts_with("   - Uiterlijk") && !lines[0].ends_with(' '), "{flowed}");
        assert!(lines[1].starts_with("     ") && !lines[1].starts_with("      "), "{flowed}");
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH + 1));
        assert_eq!(list_indent("1. Eerst"), Some(3));
        assert_eq!(list_indent("Gewoon een zin"), None);
    }

    #[test]
    fn trailing_spaces_of_hard_lines_are_dropped() {
        assert_eq!(flow("Regel met spatie   \nVolgende"), "Regel met spatie\nVolgende");
        assert_eq!(flow("Windows\r\nregels"), "Windows\nregels");
    }
}
