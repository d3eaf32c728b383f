//! What a `FROM` starts from (an image, an earlier stage or scratch, with
//! its platform and name) and what a `COPY --from=` names that is not a
//! stage.

use std::collections::BTreeMap;

use super::expand::{expand_words, first_variable};
use super::instructions::Instruction;
use super::{Base, CopySource, DockerfileError, Stage};
use crate::reference::Reference;

pub(super) fn parse_from(
    instruction: &Instruction,
    rest: &str,
    arguments: &BTreeMap<String, String>,
    escape: char,
    earlier: &[Stage],
) -> Result<Stage, DockerfileError> {
    let line = instruction.first_line;
    let words = expand_words(rest, arguments, escape).map_err(|error| error.at(line))?;
    let mut platform = None;
    let mut positional = Vec::new();
    for word in words {
        if let Some(flag) = word.strip_prefix("--") {
            match flag.split_once('=') {
                Some(("platform", value)) => platform = Some(value.to_string()),
                _ => return Err(DockerfileError::InvalidFrom { line, text: word }),
            }
        } else {
            positional.push(word);
        }
    }
    let (image, name) = match positional.as_slice() {
        [image] => (image.clone(), None),
        [image, as_keyword, name] if as_keyword.eq_ignore_ascii_case("as") => {
            (image.clone(), Some(name.to_ascii_lowercase()))
        }
        [] => return Err(DockerfileError::MissingImage { line }),
        _ => {
            return Err(DockerfileError::InvalidFrom {
                line,
                text: rest.to_string(),
            })
        }
    };
    if image.is_empty() {
        let variable = first_variable(rest).unwrap_or_default();
        return Err(DockerfileError::EmptyAfterSubstitution {
            line,
            original: rest.to_string(),
            variable,
        });
    }
    let lowered = image.to_ascii_lowercase();
    let base = if let Some(index) = earlier
        .iter()
        .position(|s| s.name.as_deref() == Some(&lowered))
    {
        Base::Stage(index)
    } else if lowered == "scratch" {
        Base::Scratch
    } else {
        let reference =
            Reference::parse(&image).map_err(|source| DockerfileError::InvalidReference {
                line,
                text: image.clone(),
                source,
            })?;
        Base::Image(reference)
    };
    Ok(Stage {
        name,
        base,
        platform,
        first_line: line,
        last_line: instruction.last_line,
    })
}

/// What `COPY`'s `--from=` flags name when they are not stages: a stage is
/// named by an earlier stage's `AS` name (any case) or by an index, anything
/// else is an image. Empty without `--from` or when each names a stage.
pub(super) fn copy_from(
    rest: &str,
    arguments: &BTreeMap<String, String>,
    escape: char,
    earlier: &[Stage],
) -> Vec<CopySource> {
    let Some(flags) = flag_words(rest, escape) else {
        let text: String = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        return vec![CopySource::UnreadableFlags(text)];
    };
    flags
        .iter()
        .filter_map(|flag| {
            let (name, value) = flag.split_once('=')?;
            name.eq_ignore_ascii_case("from").then_some(value)
        })
        .filter_map(|flag| from_value(flag, arguments, escape, earlier))
        .collect()
}

/// What one `--from=` value names, `None` for a stage.
fn from_value(
    flag: &str,
    arguments: &BTreeMap<String, String>,
    escape: char,
    earlier: &[Stage],
) -> Option<CopySource> {
    let value = match expand_words(flag, arguments, escape).as_deref() {
        Ok([value]) => value.clone(),
        _ => return Some(CopySource::Unresolved(flag.to_string())),
    };
    let lowered = value.to_ascii_lowercase();
    let stage = earlier
        .iter()
        .any(|stage| stage.name.as_deref() == Some(lowered.as_str()));
    if stage || (!value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit())) {
        return None;
    }
    Some(match Reference::parse(&value) {
        Ok(reference) => CopySource::Image(reference),
        Err(_) => CopySource::Unresolved(flag.to_string()),
    })
}

/// The flags at the start of an instruction's arguments without their
/// `--`, read as the engine reads them (BuildKit's `extractBuilderFlags`):
/// a flag is a word that starts with a literal `--`, flags end at the first
/// word that does not (or at a bare `--`), quotes are removed and a
/// backslash (or the `# escape=` character) takes the next character as
/// it is. So `--"from"=x` and `--fr\om=x` are `from=x`. `None` when a
/// quote is left open: golden cannot tell where the flags end.
pub(super) fn flag_words(rest: &str, escape: char) -> Option<Vec<String>> {
    let chars: Vec<char> = rest.chars().collect();
    let mut flags = Vec::new();
    let mut index = 0;
    loop {
        while chars.get(index).is_some_and(|c| c.is_whitespace()) {
            index += 1;
        }
        if chars.get(index) != Some(&'-') || chars.get(index + 1) != Some(&'-') {
            return Some(flags);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.get(index) {
            index += 1;
            match quote {
                None if c.is_whitespace() => break,
                None if c == '"' || c == '\'' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == '\\' || c == escape => {
                    if let Some(&next) = chars.get(index) {
                        word.push(next);
                        index += 1;
                    }
                }
                _ => word.push(c),
            }
        }
        if quote.is_some() {
            return None;
        }
        if word == "--" {
            return Some(flags);
        }
        flags.push(word[2..].to_string());
    }
}
