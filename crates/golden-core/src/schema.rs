//! The JSON Schemas golden prints (`golden schema config|report`): the
//! config's, for editors (taplo, Even Better TOML: golden.toml's keys,
//! their types and what each means), and the report's, for CI jobs that
//! read `--output json` (the plan and the run share it).
//!
//! The config's is written by hand (`schema/config.json`): the reader
//! takes TOML a key at a time, with spans for its errors, not through a
//! derived type; a test holds its keys to the reader's. The report's is
//! derived from the report's types, their doc comments its descriptions.

use serde_json::Value;

/// Which schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// golden.toml.
    Config,
    /// The JSON report of `plan`, `build`, `rebuild` and `promote`.
    Report,
}

/// The schema of golden.toml.
pub fn config() -> Value {
    serde_json::from_str(include_str!("schema/config.json"))
        .expect("the config schema is JSON (a test parses it)")
}

/// The schema of the JSON report, with the `version` every JSON document
/// golden prints carries first (`json_version`).
pub fn report(json_version: u32) -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(crate::report::Report))
        .expect("a schema is JSON");
    schema["title"] = Value::from("golden report (plan, build, rebuild, promote --output json)");
    schema["properties"]["version"] = serde_json::json!({
        "description": "The document's format: fields may be added within a version; one renamed or removed bumps it.",
        "const": json_version,
    });
    if let Some(required) = schema["required"].as_array_mut() {
        required.insert(0, Value::from("version"));
    }
    schema
}

/// The schema `document` names.
pub fn of(document: Document, json_version: u32) -> Value {
    match document {
        Document::Config => config(),
        Document::Report => report(json_version),
    }
}

#[cfg(test)]
mod tests;
