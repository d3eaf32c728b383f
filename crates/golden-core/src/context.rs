//! A build context as values: its entries, the recipe (the
//! `io.golden.recipe` digest and the parts it is made of) and why a context
//! could not be read. Walking and hashing a context on disk is the
//! binary's (`context`); the engine port and the plan take these.

use std::io;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// A problem reading a context.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("failed to read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Pattern(#[from] crate::dockerignore::PatternError),
    #[error("failed to write the build context")]
    Write(#[source] io::Error),
    /// Labels that must go to the engine before the context (see
    /// `upload`) named a recipe the context no longer has.
    #[error("the build context changed while golden sent it: its recipe was {observed} before the build and {sent} as sent; nothing was labelled with a recipe it does not have")]
    Changed { observed: String, sent: String },
}

/// What a context entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File {
        executable: bool,
    },
    Directory,
    Symlink {
        target: PathBuf,
    },
    /// A named pipe: sent as a header only, its content is never read.
    Fifo,
    /// A character device: sent as a header with its numbers.
    CharDevice {
        major: u32,
        minor: u32,
    },
    /// A block device: sent as a header with its numbers.
    BlockDevice {
        major: u32,
        minor: u32,
    },
}

/// One entry that goes into the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative, `/`-separated.
    pub path: String,
    pub kind: Kind,
}

/// What goes into the recipe digest besides the context files.
pub struct RecipeInputs<'a> {
    pub dockerfile: &'a str,
    pub build_args: &'a std::collections::BTreeMap<String, String>,
    pub labels: &'a std::collections::BTreeMap<String, String>,
    /// Each build secret's id and where its value is read, as golden.toml
    /// writes it (`env NAME` or `file PATH`: [`crate::config::Image`]'s
    /// `recipe_secrets`), never its value: a rotated token makes no image
    /// due, a secret read from elsewhere does.
    pub secrets: &'a std::collections::BTreeMap<String, String>,
}

impl RecipeInputs<'_> {
    /// The recipe's lines after the context's entries, each with the part
    /// it belongs to (`build arg A`, `label L`, `secret S`): the build
    /// args, the labels, then the secrets. Without secrets these are the
    /// lines (and so the digest) of a recipe from before secrets existed:
    /// an upgrade makes no image due.
    pub fn lines(&self) -> Vec<(String, String)> {
        let build_args = self
            .build_args
            .iter()
            .map(|(key, value)| (format!("build arg {key}"), format!("A {key:?}={value:?}\n")));
        let labels = self
            .labels
            .iter()
            .map(|(key, value)| (format!("label {key}"), format!("T {key:?}={value:?}\n")));
        let secrets = self
            .secrets
            .iter()
            .map(|(id, source)| (format!("secret {id}"), format!("S {id:?} {source:?}\n")));
        build_args.chain(labels).chain(secrets).collect()
    }
}

/// A recipe: its digest (the `io.golden.recipe` label) and the parts it
/// is made of (the `io.golden.recipe.parts` label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    pub digest: String,
    pub parts: RecipeParts,
}

/// The first 8 characters of a hex hash, as the parts label keeps them.
pub fn short_hash(text: &str) -> String {
    text.chars().take(8).collect()
}

/// What a recipe is made of: the Dockerfile, each build arg, each label
/// and each top-level entry of the context, with a short hash of each.
/// Stored on the image as a label of hashes only (names hashed too, so it
/// stays small and says nothing of the tree), it lets `plan` say what
/// changed since: `recipe changed: Dockerfile, build arg SDK_VERSION, certs/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipeParts(pub std::collections::BTreeMap<String, String>);

/// The prefix of the parts label's value: its format's version.
const PARTS_FORMAT: &str = "v1";

impl RecipeParts {
    /// The label value: `v1 <name hash>=<content hash> ...`, sorted.
    pub fn label(&self) -> String {
        let mut pairs: Vec<String> = self
            .0
            .iter()
            .map(|(part, hash)| format!("{}={hash}", name_hash(part)))
            .collect();
        pairs.sort();
        std::iter::once(PARTS_FORMAT.to_string())
            .chain(pairs)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The parts that differ from a build whose label was `recorded`
    /// (added, changed or removed), by name; `None` when the label is not
    /// one golden can read (an older build).
    pub fn changed_since(&self, recorded: &str) -> Option<Vec<String>> {
        let mut words = recorded.split(' ');
        if words.next() != Some(PARTS_FORMAT) {
            return None;
        }
        let mut old: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
        for word in words.filter(|w| !w.is_empty()) {
            let (name, hash) = word.split_once('=')?;
            old.insert(name, hash);
        }
        let mut changed = Vec::new();
        let mut matched = 0;
        for (part, hash) in &self.0 {
            let key = name_hash(part);
            match old.get(key.as_str()) {
                Some(before) if *before == hash => matched += 1,
                Some(_) => {
                    matched += 1;
                    changed.push(part.clone());
                }
                None => changed.push(part.clone()),
            }
        }
        let removed = old.len().saturating_sub(matched);
        if removed > 0 {
            changed.push(format!("{removed} part(s) removed"));
        }
        Some(changed)
    }
}

fn name_hash(part: &str) -> String {
    short_hash(&format!("{:x}", Sha256::digest(part.as_bytes())))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::RecipeInputs;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn secrets_add_lines_after_the_labels_and_none_leave_the_recipe_as_it_was() {
        let args = map(&[("A", "1")]);
        let labels = map(&[("team", "platform")]);
        let none = BTreeMap::new();
        let inputs = RecipeInputs {
            dockerfile: "Dockerfile",
            build_args: &args,
            labels: &labels,
            secrets: &none,
        };
        // The lines of a recipe from before secrets, as they were hashed.
        let before = vec![
            ("build arg A".to_string(), "A \"A\"=\"1\"\n".to_string()),
            (
                "label team".to_string(),
                "T \"team\"=\"platform\"\n".to_string(),
            ),
        ];
        assert_eq!(inputs.lines(), before);
        let secrets = map(&[
            ("nuget_token", "env NUGET_TOKEN"),
            ("npm", "file secrets/npmrc"),
        ]);
        let with = RecipeInputs {
            secrets: &secrets,
            ..inputs
        };
        let mut expected = before;
        expected.push((
            "secret npm".to_string(),
            "S \"npm\" \"file secrets/npmrc\"\n".to_string(),
        ));
        expected.push((
            "secret nuget_token".to_string(),
            "S \"nuget_token\" \"env NUGET_TOKEN\"\n".to_string(),
        ));
        assert_eq!(with.lines(), expected);
    }
}
