//! `platforms = ["linux/amd64", "linux/arm64"]` in `[defaults]` and
//! `[images.<id>]`: each entry a valid platform, none listed twice. Part of
//! the same key-by-key reader as `mod.rs`.

use toml::de::DeTable;
use toml::Spanned;

use super::Reader;
use crate::platform::Platform;

pub(super) const PLATFORMS_EXPECTED: &str =
    "a list of platforms such as [\"linux/amd64\", \"linux/arm64\"]";

impl Reader<'_> {
    /// The platforms `table` lists; `None` when it lists none or a problem
    /// was reported.
    pub(super) fn platforms(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
    ) -> Option<Vec<Platform>> {
        let list =
            self.value::<Vec<Spanned<String>>>(table, section, "platforms", PLATFORMS_EXPECTED)?;
        if list.get_ref().is_empty() {
            self.problem(
                list.span(),
                format!("`platforms` in {section} is empty"),
                "no platform",
                Some("remove `platforms` to build for the engine's own platform, or list the platforms to build, e.g. [\"linux/amd64\", \"linux/arm64\"]".into()),
            );
            return None;
        }
        let mut platforms: Vec<(Platform, String)> = Vec::new();
        let mut valid = true;
        for entry in list.get_ref() {
            let text = entry.get_ref();
            match text.parse::<Platform>() {
                Err(error) => {
                    valid = false;
                    self.problem(
                        entry.span(),
                        format!("invalid platform in {section}: {error}"),
                        "invalid platform",
                        crate::hint::Hint::hint(&error).map(Into::into),
                    );
                }
                Ok(platform) => {
                    if let Some((_, first)) = platforms.iter().find(|(seen, _)| *seen == platform) {
                        valid = false;
                        let same = if first == text {
                            String::new()
                        } else {
                            format!("`{first}` and `{text}` are both `{platform}`; ")
                        };
                        self.problem(
                            entry.span(),
                            format!("platform `{platform}` is listed twice in {section}"),
                            "listed twice",
                            Some(format!("{same}list each platform once")),
                        );
                    } else {
                        platforms.push((platform, text.clone()));
                    }
                }
            }
        }
        valid.then(|| {
            platforms
                .into_iter()
                .map(|(platform, _)| platform)
                .collect()
        })
    }
}
