//! `.dockerignore` as the docker CLI applies it to a build context.
//!
//! The CLI reads the file line by line (a UTF-8 BOM stripped, a line that
//! starts with `#` a comment, whitespace trimmed, `!` an exception, each
//! pattern cleaned like Go's `filepath.Clean` with a leading `/` dropped),
//! checks each pattern with Go's `filepath.Match` syntax and then matches
//! it its own way: a pattern is a literal path, a prefix (`dir/**`), a
//! suffix (`**/name`), or else a regular expression in which `*` and `?`
//! stay inside one path segment, `**` spans segments and `[...]` is a Go
//! regexp class (so `[!x]` is the class of `!` and `x`, and there is no
//! `{a,b}`). The last pattern that matches a path, or one of its parent
//! directories as seen during the walk, decides; an excluded directory is
//! walked into only when an exception starts with it.
//!
//! No glob crate speaks this dialect (globset has `{a,b}`, `[!x]` negation
//! and `**` only as a whole segment; docker matches `**foo` as a suffix),
//! so each pattern is compiled once to its match kind and all regular
//! expressions go into one `RegexSet`: a path costs a hash look-up, the
//! prefix and suffix checks and one pass of the set, however many patterns
//! there are.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use regex::RegexSet;

/// The name of the context's ignore file.
pub const DOCKERIGNORE: &str = ".dockerignore";

/// The compiled rules of an ignore file.
#[derive(Debug, Clone)]
pub struct Ignore {
    /// Whether each pattern, in order, is an exception (`!`).
    exception: Vec<bool>,
    exact: HashMap<String, Vec<u32>>,
    prefixes: Vec<(String, u32)>,
    suffixes: Vec<(String, u32)>,
    regexes: RegexSet,
    regex_ids: Vec<u32>,
    /// Every exception's pattern with a `/` appended, for the walk.
    exception_dirs: BTreeSet<String>,
}

impl Default for Ignore {
    fn default() -> Self {
        Ignore {
            exception: Vec::new(),
            exact: HashMap::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            regexes: RegexSet::empty(),
            regex_ids: Vec::new(),
            exception_dirs: BTreeSet::new(),
        }
    }
}

/// How the patterns matched one path: whether it is excluded, and which
/// patterns matched it or a parent (what its children start from).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matched {
    pub excluded: bool,
    matching: Vec<u32>,
}

/// How one pattern matches, as the docker CLI decides it.
enum Kind {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Regex(String),
}

/// A pattern of an ignore file that cannot be matched.
#[derive(Debug, thiserror::Error)]
#[error("invalid pattern `{pattern}` in `{path}`: {message}")]
pub struct PatternError {
    pub path: PathBuf,
    pub pattern: String,
    pub message: String,
}

impl Ignore {
    /// Parses ignore-file text; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Ignore, PatternError> {
        let mut ignore = Ignore::default();
        let mut regexes = Vec::new();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            // A comment only when `#` is the very first character.
            if line.starts_with('#') {
                continue;
            }
            let Some(pattern) = read_pattern(line) else {
                continue;
            };
            let error = |message: String| PatternError {
                path: path.to_path_buf(),
                pattern: line.trim().to_string(),
                message,
            };
            let (exception, pattern) = match pattern.strip_prefix('!') {
                Some("") => {
                    return Err(error(
                        "`!` alone excludes nothing; give a pattern after it".into(),
                    ))
                }
                Some(rest) => (true, rest.to_string()),
                None => (false, pattern),
            };
            if !go_match_syntax_ok(&pattern) {
                return Err(error(
                    "syntax error in pattern (an unclosed `[`, an empty or reversed range, or a trailing `\\`)".into(),
                ));
            }
            let index = ignore.exception.len() as u32;
            ignore.exception.push(exception);
            if exception {
                ignore.exception_dirs.insert(format!("{pattern}/"));
            }
            match kind_of(&pattern).map_err(error)? {
                Kind::Exact(text) => ignore.exact.entry(text).or_default().push(index),
                Kind::Prefix(text) => ignore.prefixes.push((text, index)),
                Kind::Suffix(text) => ignore.suffixes.push((text, index)),
                Kind::Regex(regex) => {
                    regexes.push((regex, line.trim().to_string()));
                    ignore.regex_ids.push(index);
                }
            }
        }
        // Compiled together; only when that fails, one by one, to name the
        // pattern at fault. The lazy DFA of thousands of patterns needs a
        // larger cache than the default, or it thrashes and falls back to a
        // slower engine (seconds instead of milliseconds for 3,300 paths).
        ignore.regexes = match regex::RegexSetBuilder::new(regexes.iter().map(|(regex, _)| regex))
            .size_limit(256 << 20)
            .dfa_size_limit(64 << 20)
            .build()
        {
            Ok(set) => set,
            Err(set_error) => {
                let (message, pattern) = regexes
                    .iter()
                    .find_map(|(regex, line)| {
                        regex::Regex::new(regex)
                            .err()
                            .map(|e| (e.to_string(), line.clone()))
                    })
                    .unwrap_or_else(|| (set_error.to_string(), String::new()));
                return Err(PatternError {
                    path: path.to_path_buf(),
                    pattern,
                    message,
                });
            }
        };
        Ok(ignore)
    }

    /// Whether there is no pattern at all.
    pub fn is_empty(&self) -> bool {
        self.exception.is_empty()
    }

    /// How the patterns match the `/`-separated relative `path`, given how
    /// they matched its parent directory (`None` at the top of the
    /// context): the docker CLI's walk, pattern by pattern, where a pattern
    /// the parent's state made moot is not carried down to its children.
    pub fn matches(&self, path: &str, parent: Option<&Matched>) -> Matched {
        let mut direct = self.direct(path);
        let inherited: &[u32] = parent.map(|p| p.matching.as_slice()).unwrap_or(&[]);
        let mut candidates: Vec<(u32, bool)> = inherited.iter().map(|&i| (i, true)).collect();
        candidates.extend(direct.drain(..).map(|i| (i, false)));
        // A pattern the parent matched counts as matching, whatever now.
        candidates.sort_unstable_by_key(|&(index, from_parent)| (index, !from_parent));
        candidates.dedup_by_key(|(index, _)| *index);
        let mut excluded = false;
        let mut matching = Vec::new();
        for (index, from_parent) in candidates {
            let exception = self.exception[index as usize];
            // A pattern that cannot change the outcome is not evaluated,
            // so it is not recorded as matching either.
            if !from_parent && exception != excluded {
                continue;
            }
            matching.push(index);
            excluded = !exception;
        }
        Matched { excluded, matching }
    }

    /// Whether `path` is left out, its parents matched along the way.
    pub fn excludes(&self, path: &str) -> bool {
        let mut state: Option<Matched> = None;
        for (index, _) in path.match_indices('/') {
            state = Some(self.matches(&path[..index], state.as_ref()));
        }
        self.matches(path, state.as_ref()).excluded
    }

    /// Whether the walk must go into the excluded directory `dir`: some
    /// exception starts with `dir/`.
    pub fn walks_into(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.exception_dirs
            .range(prefix.clone()..)
            .next()
            .is_some_and(|first| first.starts_with(&prefix))
    }

    /// The patterns matching `path` itself, sorted.
    fn direct(&self, path: &str) -> Vec<u32> {
        let mut found: Vec<u32> = self.exact.get(path).cloned().unwrap_or_default();
        for (prefix, index) in &self.prefixes {
            if path.starts_with(prefix.as_str()) {
                found.push(*index);
            }
        }
        for (suffix, index) in &self.suffixes {
            if path.ends_with(suffix.as_str())
                || suffix.strip_prefix('/').is_some_and(|rest| rest == path)
            {
                found.push(*index);
            }
        }
        if !self.regex_ids.is_empty() {
            found.extend(
                self.regexes
                    .matches(path)
                    .into_iter()
                    .map(|i| self.regex_ids[i]),
            );
        }
        found
    }
}

/// One line's pattern as the CLI reads it (`!` kept in front), `None` for
/// a blank line.
fn read_pattern(line: &str) -> Option<String> {
    let pattern = line.trim();
    if pattern.is_empty() {
        return None;
    }
    let (invert, rest) = match pattern.strip_prefix('!') {
        Some(rest) => (true, rest.trim()),
        None => (false, pattern),
    };
    let mut cleaned = String::new();
    if !rest.is_empty() {
        cleaned = clean(rest);
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
    }
    let pattern = if invert {
        format!("!{cleaned}")
    } else {
        cleaned
    };
    // The matcher cleans each pattern once more, `!` included.
    Some(clean(&pattern))
}

/// `path` cleaned as Go's `filepath.Clean` does on Unix.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(last) if *last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Whether Go's `filepath.Match` accepts `pattern` (on Unix).
fn go_match_syntax_ok(pattern: &str) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    // One character of a class, possibly escaped; the class must go on.
    let escaped = |i: &mut usize| -> bool {
        match chars.get(*i) {
            None | Some('-') | Some(']') => return false,
            Some('\\') => *i += 1,
            Some(_) => {}
        }
        if chars.get(*i).is_none() {
            return false;
        }
        *i += 1;
        *i < chars.len()
    };
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if i + 1 >= chars.len() {
                    return false;
                }
                i += 2;
            }
            '[' => {
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut ranges = 0;
                loop {
                    if chars.get(i) == Some(&']') && ranges > 0 {
                        i += 1;
                        break;
                    }
                    if !escaped(&mut i) {
                        return false;
                    }
                    if chars[i] == '-' {
                        i += 1;
                        if !escaped(&mut i) {
                            return false;
                        }
                    }
                    ranges += 1;
                }
            }
            _ => i += 1,
        }
    }
    true
}

/// Characters the CLI escapes when it turns a pattern into a regexp.
fn go_escaped(c: char) -> bool {
    ".+()|{}$".contains(c)
}

/// How the CLI matches `pattern`, and its regexp (in Go's syntax,
/// translated to this crate's) when it needs one.
fn kind_of(pattern: &str) -> Result<Kind, String> {
    #[derive(PartialEq, Clone, Copy)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut go = String::from("^");
    let mut detected = Detected::Exact;
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c == '*' {
            if chars.get(i) == Some(&'*') {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        go.push_str(".*");
                        detected = Detected::Regex;
                    }
                } else {
                    go.push_str("(.*/)?");
                    detected = Detected::Regex;
                }
                if first {
                    detected = Detected::Suffix;
                }
            } else {
                go.push_str("[^/]*");
                detected = Detected::Regex;
            }
        } else if c == '?' {
            go.push_str("[^/]");
            detected = Detected::Regex;
        } else if go_escaped(c) {
            go.push('\\');
            go.push(c);
        } else if c == '\\' {
            match chars.get(i) {
                Some(&next) => {
                    go.push('\\');
                    go.push(next);
                    i += 1;
                    detected = Detected::Regex;
                }
                None => go.push('\\'),
            }
        } else if c == '[' || c == ']' {
            go.push(c);
            detected = Detected::Regex;
        } else {
            go.push(c);
        }
        first = false;
    }
    Ok(match detected {
        Detected::Exact => Kind::Exact(pattern.to_string()),
        Detected::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_string()),
        Detected::Suffix => Kind::Suffix(pattern[2..].to_string()),
        Detected::Regex => {
            go.push('$');
            Kind::Regex(translate(&go)?)
        }
    })
}

/// A Go regexp (the subset a pattern turns into) as an equivalent regexp
/// of the `regex` crate: Go's class syntax differs (`[` inside a class is
/// a plain character in Go, a nested class here).
fn translate(go: &str) -> Result<String, String> {
    let chars: Vec<char> = go.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let next = *chars.get(i).ok_or("trailing `\\`")?;
                i += 1;
                out.push_str(&escape_outside(next)?);
            }
            '[' => {
                let (class, rest) = class(&chars, i)?;
                out.push_str(&class);
                i = rest;
            }
            '^' | '$' | '(' | ')' | '|' | '*' | '+' | '?' | '.' => out.push(c),
            _ => out.push_str(&literal(c)),
        }
    }
    Ok(out)
}

fn literal(c: char) -> String {
    format!("\\x{{{:x}}}", c as u32)
}

/// What `\c` means in a Go regexp, as a piece of a class (`None` when it
/// is one character, returned as `Err` otherwise).
fn escape_char(c: char) -> Result<Result<char, &'static str>, String> {
    Ok(match c {
        _ if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(c),
        'a' => Ok('\u{7}'),
        'f' => Ok('\u{c}'),
        't' => Ok('\t'),
        'n' => Ok('\n'),
        'r' => Ok('\r'),
        'v' => Ok('\u{b}'),
        'd' => Err("0-9"),
        'D' => Err("[^0-9]"),
        's' => Err("\\t\\n\\x0C\\r "),
        'S' => Err("[^\\t\\n\\x0C\\r ]"),
        'w' => Err("0-9A-Za-z_"),
        'W' => Err("[^0-9A-Za-z_]"),
        _ => {
            return Err(format!(
                "`\\{c}` is an escape golden does not support in .dockerignore; escape only punctuation"
            ))
        }
    })
}

fn escape_outside(c: char) -> Result<String, String> {
    Ok(match escape_char(c)? {
        Ok(c) => literal(c),
        Err(class) => format!("[{class}]"),
    })
}

const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// A Go class starting after its `[` at `start`: the translated class and
/// where the text goes on.
fn class(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let mut i = start;
    let mut out = String::from("[");
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    let missing = || "missing closing `]` in the pattern's character class".to_string();
    loop {
        let c = *chars.get(i).ok_or_else(missing)?;
        if c == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        // A POSIX class such as [:alpha:].
        if c == '[' && chars.get(i + 1) == Some(&':') {
            let rest: String = chars[i + 2..].iter().collect();
            if let Some(end) = rest.find(":]") {
                let name = &rest[..end];
                let bare = name.strip_prefix('^').unwrap_or(name);
                if !POSIX_CLASSES.contains(&bare) {
                    return Err(format!("invalid character class `[:{name}:]`"));
                }
                out.push_str(&format!("[:{name}:]"));
                i += 2 + name.chars().count() + 2;
                continue;
            }
        }
        let (lo, next) = class_char(chars, i)?;
        i = next;
        let lo = match lo {
            Ok(lo) => lo,
            Err(class) => {
                out.push_str(class);
                continue;
            }
        };
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            let (hi, next) = class_char(chars, i + 1)?;
            i = next;
            let hi = hi.map_err(|_| "a class range ends in a class".to_string())?;
            if hi < lo {
                return Err(format!("invalid character class range `{lo}-{hi}`"));
            }
            out.push_str(&format!("{}-{}", literal(lo), literal(hi)));
        } else {
            out.push_str(&literal(lo));
        }
    }
    out.push(']');
    Ok((out, i))
}

type ClassChar = Result<char, &'static str>;

fn class_char(chars: &[char], i: usize) -> Result<(ClassChar, usize), String> {
    let c = *chars
        .get(i)
        .ok_or("missing closing `]` in the pattern's character class")?;
    if c == '\\' {
        let next = *chars.get(i + 1).ok_or("trailing `\\`")?;
        return Ok((escape_char(next)?, i + 2));
    }
    Ok((Ok(c), i + 1))
}
