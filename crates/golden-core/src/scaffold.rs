//! `golden init`: a first golden.toml from the Dockerfiles found in a
//! directory, one image per Dockerfile, for the user to read, adjust and
//! validate. Golden parents need no key: a FROM naming another line's
//! repository under the namespace makes it one.
//!
//! Pure: the files found are handed in; the text comes out.

use std::collections::BTreeSet;

/// A Dockerfile found: its directory (relative to the config, `/`
/// separated, empty for the config's own) and its file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub directory: String,
    pub file: String,
}

/// The id an image found in `directory` gets: its last component in
/// lowercase, other characters than letters, digits, `-` and `_` made
/// `-`; `app` for the config's own directory.
fn id_for(directory: &str) -> String {
    let last = directory
        .rsplit('/')
        .find(|part| !part.is_empty())
        .unwrap_or("app");
    let id: String = last
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    let id = id.trim_matches('-').to_string();
    if id.is_empty() {
        "app".to_string()
    } else {
        id
    }
}

/// golden.toml for the Dockerfiles `found` (in a stable order), pushing to
/// `host` under `namespace`.
pub fn golden_toml(found: &[Found], host: &str, namespace: &str) -> String {
    let mut text = format!(
        "# Made by `golden init` from {} Dockerfile(s). Read it through: set each\n\
         # line's `version` (MAJOR.MINOR of what it publishes) and its schedule,\n\
         # then run `golden validate` and `golden plan`.\n\n\
         [registry]\nhost = \"{host}\"            # where golden pushes\nnamespace = \"{namespace}\"\n\n\
         [defaults]\nschedule = \"@weekly\"           # rebuilt every Sunday 00:00 UTC, fresh\n\
         # A smoke test run in each new image before anything is pushed:\n\
         # test = [\"sh\", \"-c\", \"true\"]\n\n\
         [defaults.retention]\nkeep = 10                        # builds `golden prune` keeps per line\n",
        found.len()
    );
    let mut taken = BTreeSet::new();
    for entry in found {
        let base = id_for(&entry.directory);
        let mut id = base.clone();
        let mut n = 2;
        while !taken.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        let context = if entry.directory.is_empty() {
            "."
        } else {
            entry.directory.as_str()
        };
        text.push_str(&format!(
            "\n[images.{id}]\nversion = \"1.0\"\ncontext = \"{}\"\n",
            context.replace('\\', "\\\\").replace('"', "\\\"")
        ));
        if entry.file != "Dockerfile" {
            text.push_str(&format!(
                "dockerfile = \"{}\"\n",
                entry.file.replace('\\', "\\\\").replace('"', "\\\"")
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(directory: &str, file: &str) -> Found {
        Found {
            directory: directory.into(),
            file: file.into(),
        }
    }

    #[test]
    fn each_dockerfile_becomes_a_line_with_a_unique_id() {
        let text = golden_toml(
            &[
                found("images/ASP.NET Core", "Dockerfile"),
                found("a/tools", "Dockerfile"),
                found("b/tools", "Containerfile"),
                found("", "Dockerfile"),
            ],
            "registry.local:5000",
            "golden",
        );
        for shown in [
            "[images.asp-net-core]\nversion = \"1.0\"\ncontext = \"images/ASP.NET Core\"\n",
            "[images.tools]\nversion = \"1.0\"\ncontext = \"a/tools\"\n",
            "[images.tools-2]\nversion = \"1.0\"\ncontext = \"b/tools\"\ndockerfile = \"Containerfile\"\n",
            "[images.app]\nversion = \"1.0\"\ncontext = \".\"\n",
            "host = \"registry.local:5000\"",
            "from 4 Dockerfile(s)",
        ] {
            assert!(text.contains(shown), "no {shown:?} in\n{text}");
        }
        assert!(text.parse::<toml::Table>().is_ok(), "{text}");
    }
}
