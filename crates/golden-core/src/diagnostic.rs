//! Problems found in user files (golden.toml, Dockerfiles), each with the
//! file, the span it is about and a hint, rendered with a caret under the
//! offending text. Many are collected and reported at once.
//!
//! Pure: sources are handed in; nothing is read or printed here.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use codespan_reporting::diagnostic::{Diagnostic as Rendered, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Chars, Config};

/// A user file and its text, shared by the diagnostics that point into it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(path: &Path, text: &str) -> Self {
        SourceFile {
            path: path.to_path_buf(),
            text: Arc::from(text),
        }
    }

    /// 1-based line and column of byte `offset`.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// The byte range of 1-based `line`, without its newline.
    pub fn line_span(&self, line: usize) -> Range<usize> {
        let mut start = 0;
        for (index, text) in self.text.split_inclusive('\n').enumerate() {
            if index + 1 == line {
                let trimmed = text.trim_end_matches(['\n', '\r']);
                return start..start + trimmed.len();
            }
            start += text.len();
        }
        self.text.len()..self.text.len()
    }
}

/// One problem in a user file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub message: String,
    pub file: Option<SourceFile>,
    pub span: Option<Range<usize>>,
    pub label: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem at `span` of `file`.
    pub fn at(file: &SourceFile, span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            file: Some(file.clone()),
            span: Some(span),
            label: String::new(),
            hint: None,
        }
    }

    /// A problem about a whole file.
    pub fn in_file(path: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            file: Some(SourceFile::new(path, "")),
            span: None,
            label: String::new(),
            hint: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line:column`, or the file alone.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        let path = file.path.display();
        Some(match &self.span {
            Some(span) => {
                let (line, column) = file.line_column(span.start);
                format!("{path}:{line}:{column}")
            }
            None => path.to_string(),
        })
    }

    /// The rendered problem: message, location, source line with a caret,
    /// and the hint.
    pub fn render(&self) -> String {
        let (Some(file), Some(span)) = (&self.file, &self.span) else {
            let mut text = format!("error: {}\n", self.message);
            if let Some(location) = self.location() {
                text.push_str(&format!("  --> {location}\n"));
            }
            if let Some(hint) = &self.hint {
                text.push_str(&format!("  = hint: {hint}\n"));
            }
            return text;
        };
        let (text, span) = shortened(&file.text, span.clone());
        let source = SimpleFile::new(file.path.display().to_string(), text.as_str());
        let mut rendered = Rendered::error()
            .with_message(&self.message)
            .with_labels(vec![Label::primary((), span).with_message(&self.label)]);
        if let Some(hint) = &self.hint {
            rendered = rendered.with_notes(vec![format!("hint: {hint}")]);
        }
        let config = Config {
            chars: Chars::ascii(),
            ..Config::default()
        };
        term::emit_into_string(&config, &source, &rendered)
            .unwrap_or_else(|_| format!("error: {}\n", self.message))
    }
}

/// The most characters of a source line shown after the start of a span.
const SHOWN_LINE: usize = 160;

/// `text` with the line `span` starts on cut to [`SHOWN_LINE`] characters
/// after the span's start (a 64 KiB value must not be printed whole), and
/// the span cut with it. Lines and columns stay those of the file.
fn shortened(text: &str, span: Range<usize>) -> (String, Range<usize>) {
    let start = span.start.min(text.len());
    let line_end = text[start..].find('\n').map_or(text.len(), |at| start + at);
    let cut = text[start..line_end]
        .char_indices()
        .nth(SHOWN_LINE)
        .map(|(at, _)| start + at);
    match cut {
        Some(cut) => {
            let shown = format!("{}...{}", &text[..cut], &text[line_end..]);
            (shown, start..span.end.clamp(start, cut))
        }
        None => (text.to_string(), span),
    }
}

/// Every problem found in a configuration, reported together.
#[derive(Debug, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.0 {
            writeln!(formatter, "{}\n", diagnostic.render().trim_end())?;
        }
        let count = self.0.len();
        write!(
            formatter,
            "{count} problem{} found; nothing was built",
            if count == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to `word`, for "did you mean" hints.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3))
        .min()
        .map(|(_, candidate)| candidate)
}

fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (i, l) in left.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, r) in right.iter().enumerate() {
            let substitution = previous[j] + usize::from(l != *r);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let file = SourceFile::new(Path::new("g.toml"), "a = 1\nbb = 2\n");
        assert_eq!(file.line_column(0), (1, 1));
        assert_eq!(file.line_column(6), (2, 1));
        assert_eq!(file.line_column(8), (2, 3));
        assert_eq!(file.line_span(2), 6..12);
    }

    #[test]
    fn long_lines_are_cut_after_the_span_and_keep_their_place() {
        let long = format!("a = 1\nkey = \"{}\"\nb = 2\n", "x".repeat(70_000));
        let file = SourceFile::new(Path::new("g.toml"), &long);
        let rendered = Diagnostic::at(&file, 6..9, "bad key")
            .label("here")
            .render();
        assert!(rendered.len() < 1_000, "{rendered}");
        assert!(rendered.contains("g.toml:2:1"), "{rendered}");
        assert!(rendered.contains("xxx..."), "{rendered}");
        let whole_value = Diagnostic::at(&file, 12..70_012, "bad value").render();
        assert!(whole_value.len() < 1_000, "{whole_value}");
        assert!(whole_value.contains("g.toml:2:7"), "{whole_value}");
    }

    #[test]
    fn closest_suggests_near_misses_only() {
        let keys = ["version", "context", "dockerfile"];
        assert_eq!(closest("verison", &keys), Some("version"));
        assert_eq!(closest("dockerfil", &keys), Some("dockerfile"));
        assert_eq!(closest("zzz", &keys), None);
    }
}
