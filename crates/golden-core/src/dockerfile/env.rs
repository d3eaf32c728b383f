//! What a Dockerfile's final stage sets an environment variable to, read
//! from its `ENV` instructions (and those of the stages it builds on).

use std::collections::BTreeMap;

use super::expand::expand_words;
use super::instructions::{escape_directive, instructions, split_keyword, without_bom};
use super::{Base, Dockerfile};

/// What a Dockerfile's final stage itself sets an environment variable
/// to (see [`env_in_final_stage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSet {
    /// No `ENV` of the final stage (or a stage it builds on) sets it: the
    /// image it starts from decides.
    Unset,
    /// The last `ENV` setting it, a literal value.
    Literal(String),
    /// The last `ENV` setting it uses a variable (`$X`): only the build
    /// knows its value.
    Computed,
}

/// What the last `ENV` instruction setting `name` in the final stage (or
/// an earlier stage it is built on) sets it to, with `build_args`
/// substituted in the FROMs. A Dockerfile that does not parse sets nothing.
pub fn env_in_final_stage(text: &str, build_args: &BTreeMap<String, String>, name: &str) -> EnvSet {
    let Ok(dockerfile) = Dockerfile::parse(text, build_args) else {
        return EnvSet::Unset;
    };
    let text = without_bom(text);
    let escape = escape_directive(text);
    let mut per_stage: Vec<Option<EnvSet>> = vec![None; dockerfile.stages.len()];
    let mut stage: Option<usize> = None;
    for instruction in instructions(text, escape) {
        let (keyword, rest) = split_keyword(&instruction.text);
        match keyword.to_ascii_uppercase().as_str() {
            "FROM" => stage = Some(stage.map_or(0, |index| index + 1)),
            "ENV" => {
                let Some(set) = env_setting(rest, name, escape) else {
                    continue;
                };
                if let Some(slot) = stage.and_then(|index| per_stage.get_mut(index)) {
                    *slot = Some(set);
                }
            }
            _ => {}
        }
    }
    let mut index = dockerfile.stages.len() - 1;
    loop {
        if let Some(Some(set)) = per_stage.get(index) {
            return set.clone();
        }
        match dockerfile.stages[index].base {
            Base::Stage(earlier) if earlier < index => index = earlier,
            _ => return EnvSet::Unset,
        }
    }
}

/// What one `ENV` instruction's arguments (`rest`) set `name` to, if
/// they set it: `NAME=value ...` or the legacy `NAME value`.
fn env_setting(rest: &str, name: &str, escape: char) -> Option<EnvSet> {
    let first = rest.split_whitespace().next()?;
    if !first.contains('=') {
        // `ENV NAME value with spaces`
        let value = rest[first.len()..].trim();
        return (first == name).then(|| literal(value, escape));
    }
    let mut found = None;
    let raw = expand_words(rest, &BTreeMap::new(), escape).ok();
    let words: Vec<&str> = rest.split_whitespace().collect();
    for word in raw.iter().flatten() {
        if let Some((key, value)) = word.split_once('=') {
            if key == name {
                found = Some(EnvSet::Literal(value.to_string()));
            }
        }
    }
    // A variable in the value is expanded by the build, not here.
    let computed = words.iter().any(|word| {
        word.split_once('=')
            .is_some_and(|(key, value)| key == name && value.contains('$'))
    });
    match (found, computed) {
        (_, true) => Some(EnvSet::Computed),
        (found, false) => found,
    }
}

fn literal(value: &str, escape: char) -> EnvSet {
    if value.contains('$') {
        return EnvSet::Computed;
    }
    match expand_words(value, &BTreeMap::new(), escape) {
        Ok(words) => EnvSet::Literal(words.join(" ")),
        Err(_) => EnvSet::Computed,
    }
}
