//! The developers' guide's size rule, checked on the sources: no file in `src/` over 600 lines,
//! no function over 80 lines unless it is a table (then it is named in [`TABLES`], with why).
//!
//! A function's length is counted from the line of its `fn` to the line of its closing brace.
//! Comments, strings and character literals are blanked first, so their braces do not count.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

/// Functions allowed to be longer because they are tables (file under `src/`, function name).
/// An entry whose function is no longer too long fails the test, so the list stays true.
const TABLES: &[(&str, &str)] = &[];

/// `source` with comments, strings and character literals replaced by spaces (line breaks kept).
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let end = if c == '/' && next == Some('/') {
            chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |n| i + n)
        } else if c == '/' && next == Some('*') {
            block_comment_end(&chars, i)
        } else if c == '"' || (c == 'r' || c == 'b') && starts_raw_or_byte_string(&chars, i) {
            string_end(&chars, i)
        } else if c == '\'' {
            char_literal_end(&chars, i).unwrap_or(i + 1)
        } else {
            out.push(c);
            i += 1;
            continue;
        };
        out.extend(chars[i..end].iter().map(|&c| blank(c)));
        i = end;
    }
    out
}

fn block_comment_end(chars: &[char], start: usize) -> usize {
    let (mut depth, mut i) = (0, start);
    while i + 1 < chars.len() {
        match (chars[i], chars[i + 1]) {
            ('/', '*') => (depth, i) = (depth + 1, i + 2),
            ('*', '/') if depth == 1 => return i + 2,
            ('*', '/') => (depth, i) = (depth - 1, i + 2),
            _ => i += 1,
        }
    }
    chars.len()
}

/// `r"`, `r#"`, `b"`, `br"`, `br#"` at `i`, not inside an identifier.
fn starts_raw_or_byte_string(chars: &[char], i: usize) -> bool {
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return false;
    }
    let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
    ["r\"", "r#", "b\"", "br\"", "br#"].iter().any(|p| rest.starts_with(p))
}

fn string_end(chars: &[char], start: usize) -> usize {
    let mut i = start;
    while chars[i] != '"' && chars[i] != '#' {
        i += 1; // the `r` / `b` prefix
    }
    let raw = i > start && chars[start..i].contains(&'r');
    let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
    i += hashes + 1; // past the opening quote
    while i < chars.len() {
        match chars[i] {
            '\\' if !raw => i += 2,
            '"' if chars[i + 1..].iter().take(hashes).filter(|&&c| c == '#').count() == hashes => return i + 1 + hashes,
            _ => i += 1,
        }
    }
    chars.len()
}

/// The end of a character literal at `start`, or `None` for a lifetime or label (`'a`).
fn char_literal_end(chars: &[char], start: usize) -> Option<usize> {
    match chars.get(start + 1)? {
        '\\' => chars.get(start + 3..)?.iter().position(|&c| c == '\'').map(|n| start + 4 + n),
        _ if chars.get(start + 2) == Some(&'\'') => Some(start + 3),
        _ => None,
    }
}

/// Each function with a body in `source`: its name and length in lines.
fn functions(source: &str) -> Vec<(String, usize)> {
    let code = code_only(source);
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    for (at, _) in code.match_indices("fn ") {
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        let name: String = code[at + 3..].trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            continue; // `fn(` as a type
        }
        let Some(open) = code[at..].find(['{', ';']).map(|n| at + n).filter(|&n| bytes[n] == b'{') else {
            continue; // a declaration without a body
        };
        let mut depth = 0;
        let close = code[open..].char_indices().find_map(|(n, c)| {
            depth += match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            (depth == 0).then_some(open + n)
        });
        let close = close.unwrap_or(code.len());
        found.push((name, code[at..close.min(code.len() - 1) + 1].lines().count()));
    }
    found
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

#[test]
fn no_file_or_function_is_too_long() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut too_long = Vec::new();
    let mut long_tables = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            too_long.push(format!("{name}: {lines} lines (at most {MAX_FILE_LINES})"));
        }
        for (function, lines) in functions(&text) {
            let table = TABLES.contains(&(name.as_str(), function.as_str()));
            if lines > MAX_FN_LINES && table {
                long_tables.push((name.clone(), function));
            } else if lines > MAX_FN_LINES {
                too_long.push(format!("{name}: fn {function} has {lines} lines (at most {MAX_FN_LINES}, unless a table in TABLES)"));
            }
        }
    }
    for (file, function) in TABLES.iter().filter(|(f, n)| !long_tables.iter().any(|(lf, ln)| lf == f && ln == n)) {
        too_long.push(format!("{file}: fn {function} is in TABLES but no longer too long (or gone): remove it there"));
    }
    too_long.sort();
    assert!(too_long.is_empty(), "too long:\n{}", too_long.join("\n"));
}

#[test]
fn functions_are_measured_without_comments_strings_or_literals() {
    let source = "fn a() {\n    let s = \"}\"; // }\n    let c = '}';\n    let r = r#\"\"}\"#;\n}\n\
                  trait T { fn b(&self); }\n/* fn c() { */\nfn d<'x>(v: &'x str) -> fn(u8) {\n    |_| {}\n}\n";
    assert_eq!(functions(source), [("a".to_string(), 5), ("d".to_string(), 3)]);
}
