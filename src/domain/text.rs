//! Text hygiene for what arrives in mail: header values, HTML bodies and file names.

/// A header value fit for one line: control characters (CR, LF, NUL, ...) become spaces,
/// runs of white space collapse, and the result is trimmed and cut to `max_chars`.
/// Everything that we later write into an outgoing header passes through here first.
pub fn single_line(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars));
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_control() || c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if out.chars().count() >= max_chars {
            break;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Replaces every e-mail address in `text` by `<address>`: server errors quote recipients,
/// and logs must not carry personal data.
pub fn redact_addresses(text: &str) -> String {
    let is_part = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-');
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let looks_like_address = word.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'));
        out.push_str(if looks_like_address { "<address>" } else { word.as_str() });
        word.clear();
    };
    for c in text.chars() {
        if is_part(c) || c == '@' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Turns an HTML body into plain text. `<script>`, `<style>` and `<head>` contents are dropped
/// entirely (not just their tags), and so is every element a reader never sees (`display:none`
/// preheaders of newsletter-style mail, `hidden`, ...); block elements become line breaks;
/// entities are decoded by mail-parser's converter, which does the rest. Invisible characters
/// go, and runs of spaces (from the markup's indentation) collapse to one.
pub fn html_to_text(html: &str) -> String {
    let hidden = hidden_classes(html);
    let stripped = strip_elements(html, &["script", "style", "head", "template", "noscript"]);
    let stripped = strip_hidden_elements(&stripped, &hidden);
    let with_breaks = stripped.replace("</div>", "</div><br>").replace("</DIV>", "</DIV><br>").replace("</li>", "</li><br>").replace("</tr>", "</tr><br>");
    let text = mail_parser::decoders::html::html_to_text(&with_breaks);
    let text = remove_invisible(&text);
    let collapsed: Vec<String> = text.lines().map(|l| l.split([' ', '\t']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")).collect();
    tidy_lines(&collapsed.join("\n"))
}

/// Elements that never occur with content in HTML (a hidden one is dropped as a single tag).
const VOID_ELEMENTS: &[&str] = &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"];

/// Whether a style (lower-cased, white space removed) hides what it applies to: what
/// newsletters use for preheaders (`display:none`, `visibility:hidden`, Outlook's
/// `mso-hide:all`, `opacity:0`, `max-height:0`, a zero-width or zero-height box that hides its
/// overflow) and the `hidden` attribute. `font-size:0` alone is judged with the element's content
/// (see [`strip_hidden_elements`]): responsive templates set it on the container of their columns.
fn hides(style: &str) -> bool {
    let zero = |prop: &str| zero_property(style, prop);
    style.contains("display:none")
        || style.contains("visibility:hidden")
        || style.contains("mso-hide:all")
        || zero("opacity:")
        || zero("max-height:")
        || zero("max-width:")
        || ((zero("height:") || zero("width:") || zero("line-height:")) && (style.contains("overflow:hidden") || zero("font-size:")))
        || (zero("width:") && zero("height:"))
}

/// Whether `prop` (say `width:`) is set to zero in a style: `width:0`, `width:0px`, `width:0%`,
/// not `width:0.5em` nor `border-width:0` or `min-width:0`.
fn zero_property(style: &str, prop: &str) -> bool {
    style.match_indices(prop).any(|(i, _)| {
        let starts = i == 0 || style[..i].ends_with(['"', '\'', ';', '{']);
        let rest = &style[i + prop.len()..];
        let digits = rest.trim_start_matches('0');
        starts && digits.len() < rest.len() && !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
    })
}

/// The class names that the mail's `<style>` blocks hide outright (`.preheader{display:none}`,
/// `span.hidden {max-height:0}`), outside `@media` rules: those show or hide for one screen size.
fn hidden_classes(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut classes = Vec::new();
    let mut at = 0;
    while let Some(rel) = lower[at..].find("<style") {
        let open = at + rel;
        let Some(body_start) = lower[open..].find('>').map(|e| open + e + 1) else { break };
        let body_end = lower[body_start..].find("</style").map_or(lower.len(), |e| body_start + e);
        let css: String = lower[body_start..body_end].chars().filter(|c| !c.is_whitespace()).collect();
        let mut depth = 0usize;
        let mut selector = String::new();
        let mut rule = String::new();
        for c in css.chars() {
            match c {
                '{' => {
                    depth += 1;
                    rule.clear();
                }
                '}' => {
                    if depth == 1 && !selector.starts_with('@') && hides(&format!("{{{rule}")) {
                        for sel in selector.split(',') {
                            // A plain class selector, with or without its element: `.x`, `div.x`.
                            if let Some((element, class)) = sel.split_once('.') {
                                if element.chars().all(|c| c.is_ascii_alphanumeric())
                                    && !class.is_empty()
                                    && class.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                                {
                                    classes.push(class.to_string());
                                }
                            }
                        }
                    }
                    depth = depth.saturating_sub(1);
                    selector.clear();
                }
                _ if depth == 0 => selector.push(c),
                _ => rule.push(c),
            }
        }
        at = body_end.max(open + 1);
    }
    classes
}

/// The classes of an opening tag (lower-cased, single spaces).
fn tag_classes(tag: &str) -> Vec<&str> {
    let Some(i) = tag.find(" class=") else { return Vec::new() };
    let rest = &tag[i + 7..];
    let value = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
        _ => rest.split([' ', '>', '/']).next().unwrap_or(""),
    };
    value.split(' ').filter(|c| !c.is_empty()).collect()
}

/// Removes every element that is hidden (see [`hides`]: by its style attribute, the `hidden`
/// attribute, a class the `<style>` block hides, or `font-size:0` over content that sets no
/// font size of its own), with its content and nested elements of the same name. An unclosed
/// hidden element is removed to the end.
fn strip_hidden_elements(html: &str, hidden: &[String]) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len());
    let mut pos = 0;
    let mut search = 0;
    while let Some(rel) = lower[search..].find('<') {
        let start = search + rel;
        let Some(end) = lower[start..].find('>').map(|e| start + e + 1) else { break };
        let tag = &lower[start..end];
        let name: String = tag[1..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        // Attribute checks look at the tag with its white space removed (`display : none`).
        let compact: String = tag.chars().filter(|c| !c.is_whitespace()).collect();
        let spaced = tag.split_whitespace().collect::<Vec<_>>().join(" ");
        let void = VOID_ELEMENTS.contains(&name.as_str()) || tag.ends_with("/>");
        let by_class = || tag_classes(&spaced).iter().any(|c| hidden.iter().any(|h| h == c));
        let tiny_font = || {
            zero_property(&compact, "font-size:") && {
                let inner: String = lower[end..element_end(&lower, end, &name)].chars().filter(|c| !c.is_whitespace()).collect();
                !inner.match_indices("font-size:").any(|(i, _)| {
                    let rest = &inner[i + "font-size:".len()..];
                    let digits = rest.trim_start_matches('0');
                    digits.len() == rest.len() || digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
                })
            }
        };
        if name.is_empty() || !(hides(&compact) || hides_by_attribute(&spaced) || by_class() || (!void && tiny_font())) {
            search = end;
            continue;
        }
        out.push_str(&html[pos..start]);
        pos = if void { end } else { element_end(&lower, end, &name) };
        search = pos;
    }
    out.push_str(&html[pos..]);
    out
}

/// The `hidden` attribute (`<div hidden>`, `<span hidden="">`), as a word of the tag.
fn hides_by_attribute(tag: &str) -> bool {
    tag.trim_start_matches('<').trim_end_matches('>').trim_end_matches('/').split(' ').skip(1).any(|w| w == "hidden" || w.starts_with("hidden="))
}

/// Where the element `name` opened just before `from` ends, counting nested ones of its name.
fn element_end(lower: &str, from: usize, name: &str) -> usize {
    let (open, close) = (format!("<{name}"), format!("</{name}"));
    let mut depth = 1;
    let mut at = from;
    while let Some(rel) = lower[at..].find('<') {
        let i = at + rel;
        let rest = &lower[i..];
        let boundary = |s: &str, n: usize| s[n..].starts_with(|c: char| c == '>' || c == '/' || c.is_ascii_whitespace());
        let tag_end = rest.find('>').map_or(lower.len(), |e| i + e + 1);
        if rest.starts_with(&close) && boundary(rest, close.len()) {
            depth -= 1;
            if depth == 0 {
                return tag_end;
            }
        } else if rest.starts_with(&open) && boundary(rest, open.len()) && !lower[i..tag_end].ends_with("/>") {
            depth += 1;
        }
        at = tag_end.max(i + 1);
    }
    lower.len()
}

/// Drops characters that take no room on the screen (zero-width spaces and joiners, the
/// combining grapheme joiner, soft hyphens, byte-order marks, bidirectional controls) and turns
/// the no-break and typographic spaces into plain ones. A zero-width joiner between two emoji
/// (a family, a profession) is part of the emoji and stays.
pub fn remove_invisible(text: &str) -> String {
    let is_emoji = |c: Option<char>| c.is_some_and(|c| matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF));
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\u{200D}' if i > 0 && is_emoji(chars.get(i - 1).copied()) && is_emoji(chars.get(i + 1).copied()) => out.push(c),
            '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}' => {}
            '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Removes `<name ...> ... </name>` (case-insensitive) including contents; an unclosed element
/// is removed to the end of the input, which is the safe reading of broken markup.
fn strip_elements(html: &str, names: &[&str]) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len());
    let mut pos = 0;
    'outer: while pos < html.len() {
        let Some(rel) = lower[pos..].find('<') else { break };
        let start = pos + rel;
        for name in names {
            let open = &lower[start + 1..];
            if open.starts_with(name) && open[name.len()..].starts_with(|c: char| c == '>' || c.is_ascii_whitespace() || c == '/') {
                out.push_str(&html[pos..start]);
                let close = format!("</{name}");
                pos = match lower[start..].find(&close) {
                    Some(c) => {
                        let after = start + c;
                        lower[after..].find('>').map_or(html.len(), |g| after + g + 1)
                    }
                    None => html.len(),
                };
                continue 'outer;
            }
        }
        out.push_str(&html[pos..=start]);
        pos = start + 1;
    }
    if pos < html.len() {
        out.push_str(&html[pos..]);
    }
    out
}

/// Removes the C0 control characters other than tab, line feed and carriage return (and DEL)
/// from text that goes into the database: PostgreSQL's TEXT refuses NUL, and none of them
/// means anything in a complaint.
pub fn strip_controls(text: &str) -> String {
    text.chars().filter(|&c| !is_stray_control(c)).collect()
}

fn is_stray_control(c: char) -> bool {
    (c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}'
}

/// Trims every line and keeps at most one empty line in a row; stray control characters
/// (see [`strip_controls`]) are dropped.
pub fn tidy_lines(text: &str) -> String {
    let cleaned;
    let text = if text.chars().any(is_stray_control) {
        cleaned = strip_controls(text);
        cleaned.as_str()
    } else {
        text
    };
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// A file name for display only: the last path component of what the mail claimed, without
/// control characters or anything a shell or file manager treats specially. The file system
/// never sees it: stored attachments are named by the hash of their content.
pub fn display_filename(claimed: Option<&str>) -> String {
    let claimed = claimed.unwrap_or("");
    let last = claimed.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().map(|c| if c.is_control() || matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') { '_' } else { c }).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let cleaned: String = cleaned.chars().take(120).collect();
    if cleaned.is_empty() {
        "bijlage".to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_removes_header_injection() {
        assert_eq!(single_line("Klacht\r\nBcc: victim@example.org", 200), "Klacht Bcc: victim@example.org");
        assert_eq!(single_line("  a\t\tb \0 c  ", 200), "a b c");
        assert_eq!(single_line("abcdef", 3), "abc");
    }

    #[test]
    fn control_characters_never_reach_the_database() {
        assert_eq!(strip_controls("a\0b\x01c\x1bd\x7fe\tf\r\ng"), "abcde\tf\r\ng");
        assert_eq!(tidy_lines("Mijn\0 klacht\n\0\n\nover\x08 niets\0"), "Mijn klacht\n\nover niets");
        assert_eq!(single_line("Jan\0de\x01Vries", 200), "Jan de Vries");
        assert_eq!(display_filename(Some("brief\0.pdf")), "brief_.pdf");
        assert_eq!(html_to_text("<p>a\0b</p>"), "ab");
    }

    #[test]
    fn addresses_are_redacted_from_server_errors() {
        assert_eq!(redact_addresses("550 5.1.1 <jan.de-vries+x@example.nl>: Recipient address rejected"), "550 5.1.1 <<address>>: Recipient address rejected");
        assert_eq!(redact_addresses("timeout after 5.0 s @ 10:00"), "timeout after 5.0 s @ 10:00");
    }

    #[test]
    fn html_scripts_and_styles_never_survive() {
        let html = "<html><head><title>x</title><style>p{color:red}</style></head><body>\
                    <p>Mijn klacht</p><script>alert('x')</script><SCRIPT type=\"a\">evil()</SCRIPT>\
                    <div>over de &eacute;&eacute;n &amp; ander</div></body></html>";
        let text = html_to_text(html);
        assert!(text.contains("Mijn klacht"), "{text}");
        assert!(text.contains("over de één & ander"), "{text}");
        for bad in ["alert", "evil", "color:red", "<", ">"] {
            assert!(!text.contains(bad), "{bad} in {text}");
        }
    }

    #[test]
    fn hidden_preheaders_and_invisible_characters_are_dropped() {
        // As newsletter editors (Mailchimp, Outlook designer templates) write a preheader.
        let filler = "&#847;&zwnj;&nbsp;&#8199;&#65279;".repeat(60);
        let html = format!(
            "<html><body><div style=\"display: none; max-height: 0px; overflow: hidden;\">Bekijk dit bericht online {filler}</div>\
             <div style=\"display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;max-width:0px;opacity:0;overflow:hidden;mso-hide:all;\">{filler}</div>\
             <table><tr><td style=\"padding: 10px\"><p>Mijn   uitkering\u{200b} is   niet betaald.</p></td></tr></table>\
             <span hidden>verborgen</span><img src=x style=\"display:none\"><p style=\"opacity:0.9\">Zichtbaar</p>\
             <div style=\"DISPLAY : NONE\"><div>genest</div> nog verborgen</div><p>Einde{filler}</p></body></html>"
        );
        let text = html_to_text(&html);
        assert_eq!(text, "Mijn uitkering is niet betaald.\n\nZichtbaar\nEinde", "{text:?}");
        assert!(!text.chars().any(|c| matches!(c, '\u{200b}'..='\u{200f}' | '\u{034f}' | '\u{a0}' | '\u{feff}' | '\u{2007}')));
    }

    #[test]
    fn invisible_characters_go_but_emoji_sequences_stay() {
        assert_eq!(remove_invisible("a\u{200b}b\u{00ad}c\u{feff}d\u{a0}e\u{202e}f"), "abcd ef");
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        assert_eq!(remove_invisible(family), family);
    }

    #[test]
    fn unclosed_script_swallows_the_rest() {
        assert_eq!(html_to_text("<p>ok</p><script>never"), "ok");
    }

    #[test]
    fn display_filenames_are_tamed() {
        assert_eq!(display_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(display_filename(Some("C:\\Windows\\evil.exe")), "evil.exe");
        assert_eq!(display_filename(Some("..")), "bijlage");
        assert_eq!(display_filename(Some(".bashrc")), "bashrc");
        assert_eq!(display_filename(Some("a\nb|c.pdf")), "a_b_c.pdf");
        assert_eq!(display_filename(None), "bijlage");
        assert_eq!(display_filename(Some(&"x".repeat(500))).len(), 120);
    }

    #[test]
    fn preheaders_hidden_by_size_or_by_a_class_are_dropped() {
        let html =
            "<html><head><style type=\"text/css\">\n.preheader { display:none !important; mso-hide:all; }\nspan.verborgen{max-height:0;overflow:hidden}\n\
                    @media only screen and (max-width:600px) { .mobiel { display:none } }\n</style></head><body>\
                    <span class=\"preheader\">Voorvertoning die niemand ziet</span>\
                    <div style=\"font-size:0;line-height:0\">Klein verstopt</div>\
                    <div style=\"max-height:0\">Nul hoog</div>\
                    <span style=\"width:0;height:0\">Geen ruimte</span>\
                    <span class='x verborgen'>Ook weg</span>\
                    <table style=\"font-size:0\"><tr><td style=\"font-size:16px\">Mijn klacht blijft.</td></tr></table>\
                    <p class=\"mobiel\">Alleen op de telefoon verborgen</p><p style=\"border-width:0;min-width:0\">Zichtbaar</p></body></html>";
        let text = html_to_text(html);
        assert_eq!(text, "Mijn klacht blijft.\nAlleen op de telefoon verborgen\nZichtbaar", "{text:?}");
    }
}
