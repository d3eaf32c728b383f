//! The keys the reader takes, table by table, for the test that holds the
//! config schema to them.

pub const TOP: &[&str] = super::document::TOP_KEYS;
pub const IMAGE: &[&str] = super::images::IMAGE_KEYS;
pub const POOL_ENGINE: &[&str] = super::engines::POOL_ENGINE_KEYS;
/// The top-level tables with fixed keys.
pub const TABLES: &[(&str, &[&str])] = &[
    ("registry", super::registry::REGISTRY_KEYS),
    ("engine", super::engine::ENGINE_KEYS),
    ("defaults", super::defaults::DEFAULT_KEYS),
    ("policy", super::policy::POLICY_KEYS),
    ("notify", super::notify::NOTIFY_KEYS),
    ("backoff", super::backoff::BACKOFF_KEYS),
    ("signing", super::signing::SIGNING_KEYS),
];
