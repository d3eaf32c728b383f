//! ARG substitution as the engine's shell lexer does it for FROM, ARG and
//! `COPY --from`: words split at whitespace, quotes, the escape character,
//! and `$NAME` / `${NAME...}` with their modifiers.

use std::collections::BTreeMap;

use super::DockerfileError;

pub(super) fn first_variable(text: &str) -> Option<String> {
    let start = text.find('$')? + 1;
    let rest = text[start..].trim_start_matches('{');
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Splits `text` into words as the engine's shell lexer does for FROM and
/// ARG: whitespace separates, quotes group, the escape character escapes, and
/// `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}`, `${NAME-word}` and
/// `${NAME+word}` are substituted (unset names become empty), and
/// `${NAME:?message}` / `${NAME?message}` fail with the message when NAME is
/// empty or unset / unset.
pub(super) fn expand_words(
    text: &str,
    arguments: &BTreeMap<String, String>,
    escape: char,
) -> Result<Vec<String>, ExpandError> {
    let open = || ExpandError::Unterminated;
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        index += 1;
        if c.is_whitespace() {
            if in_word {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
            continue;
        }
        in_word = true;
        if c == escape && index < chars.len() {
            word.push(chars[index]);
            index += 1;
        } else if c == '\'' {
            let end = chars[index..]
                .iter()
                .position(|&q| q == '\'')
                .ok_or_else(open)?
                + index;
            word.extend(&chars[index..end]);
            index = end + 1;
        } else if c == '"' {
            loop {
                let q = *chars.get(index).ok_or_else(open)?;
                index += 1;
                match q {
                    '"' => break,
                    '$' => word.push_str(&substitute(&chars, &mut index, arguments, escape)?),
                    _ if q == escape
                        && chars
                            .get(index)
                            .is_some_and(|n| matches!(n, '"' | '$') || *n == escape) =>
                    {
                        word.push(chars[index]);
                        index += 1;
                    }
                    _ => word.push(q),
                }
            }
        } else if c == '$' {
            word.push_str(&substitute(&chars, &mut index, arguments, escape)?);
        } else {
            word.push(c);
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Why a word could not be expanded.
#[derive(Debug)]
pub(super) enum ExpandError {
    /// A quote or brace left open, or a modifier the engine does not know.
    Unterminated,
    Required {
        variable: String,
        message: String,
    },
}

impl ExpandError {
    pub(super) fn at(self, line: usize) -> DockerfileError {
        match self {
            ExpandError::Unterminated => DockerfileError::Unterminated { line },
            ExpandError::Required { variable, message } => DockerfileError::RequiredArgument {
                line,
                variable,
                message,
            },
        }
    }
}

/// Expands the variable starting just after a `$` at `chars[*index]`.
fn substitute(
    chars: &[char],
    index: &mut usize,
    arguments: &BTreeMap<String, String>,
    escape: char,
) -> Result<String, ExpandError> {
    if chars.get(*index) != Some(&'{') {
        let name = read_name(chars, index);
        if name.is_empty() {
            return Ok("$".to_string());
        }
        return Ok(arguments.get(&name).cloned().unwrap_or_default());
    }
    *index += 1;
    let name = read_name(chars, index);
    let close = chars[*index..]
        .iter()
        .position(|&c| c == '}')
        .ok_or(ExpandError::Unterminated)?
        + *index;
    let modifier: String = chars[*index..close].iter().collect();
    *index = close + 1;
    modified(&name, &modifier, arguments, escape)
}

/// The variable name at `chars[*index]` (empty when there is none), with
/// `index` moved past it.
fn read_name(chars: &[char], index: &mut usize) -> String {
    let start = *index;
    while *index < chars.len() && (chars[*index].is_ascii_alphanumeric() || chars[*index] == '_') {
        *index += 1;
    }
    chars[start..*index].iter().collect()
}

/// `${name}` with its `modifier` (`:-word`, `:+word`, `:?message`, `-word`,
/// `+word`, `?message` or nothing), the words expanded in turn.
fn modified(
    name: &str,
    modifier: &str,
    arguments: &BTreeMap<String, String>,
    escape: char,
) -> Result<String, ExpandError> {
    let value = arguments.get(name);
    let word = |w: &str| -> Result<String, ExpandError> {
        Ok(expand_words(w, arguments, escape)?.join(" "))
    };
    // Without a message, the engine's own words.
    let required = |w: &str, missing: &str| -> Result<String, ExpandError> {
        let message = word(w)?;
        Err(ExpandError::Required {
            variable: name.to_string(),
            message: if message.is_empty() {
                format!("`{name}` is not allowed to be {missing}")
            } else {
                message
            },
        })
    };
    let non_empty = value.is_some_and(|v| !v.is_empty());
    match modifier {
        "" => Ok(value.cloned().unwrap_or_default()),
        m if m.starts_with(":-") => match value.filter(|_| non_empty) {
            Some(v) => Ok(v.clone()),
            None => word(&m[2..]),
        },
        m if m.starts_with(":+") => {
            if non_empty {
                word(&m[2..])
            } else {
                Ok(String::new())
            }
        }
        m if m.starts_with(":?") => match value.filter(|_| non_empty) {
            Some(v) => Ok(v.clone()),
            None if value.is_some() => required(&m[2..], "empty"),
            None => required(&m[2..], "unset"),
        },
        m if m.starts_with('-') => match value {
            Some(v) => Ok(v.clone()),
            None => word(&m[1..]),
        },
        m if m.starts_with('+') => match value {
            Some(_) => word(&m[1..]),
            None => Ok(String::new()),
        },
        m if m.starts_with('?') => match value {
            Some(v) => Ok(v.clone()),
            None => required(&m[1..], "unset"),
        },
        _ => Err(ExpandError::Unterminated),
    }
}
