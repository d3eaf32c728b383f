//! A Dockerfile's text as the engine reads it into instructions: without
//! a byte order mark, with the `# escape=` parser directive, continuation
//! lines joined, comments dropped and heredoc bodies (`RUN <<EOF` ...
//! `EOF`) skipped, each split into keyword and rest.

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

/// The `# syntax=` parser directive: its line and value, when the
/// Dockerfile starts with one (BuildKit then builds with that frontend).
pub(super) fn syntax_directive(text: &str) -> Option<(usize, String)> {
    for (index, line) in without_bom(text).lines().enumerate() {
        let (key, value) = line.trim().strip_prefix('#')?.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        if key == "syntax" {
            return Some((index + 1, value.trim().to_string()));
        }
        if key != "escape" && key != "check" {
            return None;
        }
    }
    None
}

/// The logical instructions of `text`. The lines of a heredoc body
/// (after an instruction that opens one, up to its terminator) are its
/// content, never instructions: a body line `FROM x` starts no stage.
pub(super) fn instructions(text: &str, escape: char) -> Vec<Instruction> {
    let mut result = Vec::new();
    let mut current: Option<Instruction> = None;
    // The terminators of the heredocs still open, in order.
    let mut bodies: std::collections::VecDeque<Heredoc> = std::collections::VecDeque::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        if let Some(open) = bodies.front() {
            if open.ends_at(raw) {
                bodies.pop_front();
            }
            continue;
        }
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
            if let Some(done) = current.take() {
                bodies.extend(heredocs(&done.text));
                result.push(done);
            }
        }
    }
    result.extend(current);
    result
}

/// One heredoc an instruction opens: `<<NAME` (or `<<-NAME`, whose
/// terminator may be indented with tabs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Heredoc {
    /// The word written after `<<`, e.g. `EOF`.
    pub(super) word: String,
    /// The terminator: the word without its quotes.
    pub(super) name: String,
    /// `<<-`: leading tabs of the body and terminator are dropped.
    pub(super) strip_tabs: bool,
}

impl Heredoc {
    /// Whether body line `raw` is this heredoc's terminator.
    fn ends_at(&self, raw: &str) -> bool {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line = match self.strip_tabs {
            true => line.trim_start_matches('\t'),
            false => line,
        };
        line == self.name
    }
}

/// The heredocs a `RUN`, `COPY` or `ADD` instruction opens, in order, as
/// BuildKit finds them: each word of the instruction (quotes kept) that is
/// `[N]<<[-]NAME` with a non-empty NAME and no other `<`.
pub(super) fn heredocs(instruction: &str) -> Vec<Heredoc> {
    let (keyword, rest) = split_keyword(instruction);
    let opens = ["RUN", "COPY", "ADD"]
        .iter()
        .any(|known| keyword.eq_ignore_ascii_case(known));
    if !opens || !rest.contains("<<") {
        return Vec::new();
    }
    raw_words(rest)
        .into_iter()
        .filter_map(|word| {
            let after = word.trim_start_matches(|c: char| c.is_ascii_digit());
            let after = after.strip_prefix("<<")?;
            let (strip_tabs, after) = match after.strip_prefix('-') {
                Some(after) => (true, after),
                None => (false, after),
            };
            let name: String = after.chars().filter(|c| !matches!(c, '"' | '\'')).collect();
            (!name.is_empty() && !after.contains('<')).then(|| Heredoc {
                word: word.clone(),
                name,
                strip_tabs,
            })
        })
        .collect()
}

/// The words of `text` split at whitespace outside quotes, quotes and
/// backslashes kept as written.
fn raw_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            Some(open) if c == open => quote = None,
            _ => {}
        }
        word.push(c);
        if c == '\\' {
            word.extend(chars.next());
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

pub(super) fn split_keyword(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((keyword, rest)) => (keyword, rest.trim_start()),
        None => (text, ""),
    }
}
