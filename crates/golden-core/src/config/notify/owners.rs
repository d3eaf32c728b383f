//! `[notify.owners.NAME]`: a webhook of its own for the images whose
//! `owner` label is NAME. The run's notification still goes to `[notify]`'s
//! webhook whole; each owner's webhook gets the same message cut to its
//! images, when one of them is in it. `on`, `format`, `timeout`, `retries`
//! and `signing_secret_env` are `[notify]`'s.

use toml::de::DeTable;

use super::{SecretUrl, WebhookSource, SOURCE_KEYS};
use crate::config::Reader;

/// Where one owner's notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRoute {
    /// The `owner` label value it routes.
    pub owner: String,
    pub url: SecretUrl,
    pub source: WebhookSource,
}

impl Reader<'_> {
    /// `owners` of `[notify]`: each entry a table naming one webhook;
    /// `None` (with problems reported) when one is not usable.
    pub(in crate::config) fn owner_routes(
        &mut self,
        table: &DeTable<'_>,
        variable: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Option<Vec<OwnerRoute>> {
        let Some(value) = table.get("owners") else {
            return Some(Vec::new());
        };
        let owners = self.table(value, "owners in [notify]")?;
        let mut routes = Vec::new();
        let mut usable = true;
        for (name, entry) in owners {
            let section = format!("[notify.owners.{}]", name.get_ref());
            let Some(entry_table) = self.table(entry, &section) else {
                usable = false;
                continue;
            };
            self.check_keys(entry_table, &section, SOURCE_KEYS);
            match self.webhook(entry_table, &section, entry.span(), variable) {
                Some((url, source)) => routes.push(OwnerRoute {
                    owner: name.get_ref().to_string(),
                    url,
                    source,
                }),
                None => usable = false,
            }
        }
        usable.then_some(routes)
    }
}
