//! A Dockerfile's text as the engine reads it into instructions: without
//! a byte order mark, with the `# escape=` parser directive, continuation
//! lines joined and comments dropped, each split into keyword and rest.

/// A logical instruction: continuation lines joined, comments dropped.
pub(super) struct Instruction {
    pub(super) text: String,
    pub(super) first_line: usize,
    pub(super) last_line: usize,
}

/// `text` without a leading UTF-8 byte order mark, which the engine strips
/// as well (editors on Windows write one).
pub(super) fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The escape character from a `# escape=` parser directive, else `\`.
pub(super) fn escape_directive(text: &str) -> char {
    for line in without_bom(text).lines() {
        let Some(comment) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = comment.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        if key == "escape" {
            return match value.trim() {
                "`" => '`',
                _ => '\\',
            };
        }
        if key != "syntax" && key != "check" {
            break;
        }
    }
    '\\'
}

pub(super) fn instructions(text: &str, escape: char) -> Vec<Instruction> {
    let mut result = Vec::new();
    let mut current: Option<Instruction> = None;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_none()) {
            continue;
        }
        let (body, continues) = match trimmed.strip_suffix(escape) {
            Some(body) => (body, true),
            None => (trimmed, false),
        };
        let instruction = current.get_or_insert_with(|| Instruction {
            text: String::new(),
            first_line: number,
            last_line: number,
        });
        if !instruction.text.is_empty() && !body.is_empty() {
            instruction.text.push(' ');
        }
        instruction.text.push_str(body);
        instruction.last_line = number;
        if !continues {
            result.extend(current.take());
        }
    }
    result.extend(current);
    result
}

pub(super) fn split_keyword(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((keyword, rest)) => (keyword, rest.trim_start()),
        None => (text, ""),
    }
}
