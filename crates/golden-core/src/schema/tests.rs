use super::*;
use std::collections::BTreeSet;

/// The properties of the schema object at `path` (JSON pointer), following
/// a `$ref` and the map value of `additionalProperties`.
fn keys(schema: &Value, path: &str) -> BTreeSet<String> {
    let mut node = schema
        .pointer(path)
        .unwrap_or_else(|| panic!("no {path} in the schema"));
    if let Some(reference) = node["$ref"].as_str() {
        node = schema
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("no {reference}"));
    }
    node["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{path} has no properties: {node}"))
        .keys()
        .cloned()
        .collect()
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|key| key.to_string()).collect()
}

#[test]
fn the_config_schema_names_every_key_the_reader_takes_and_no_other() {
    use crate::config::keys;
    let schema = config();
    assert_eq!(keys(&schema, ""), set(keys::TOP), "top level");
    for (table, expected) in keys::TABLES {
        let found = keys(&schema, &format!("/properties/{table}"));
        assert_eq!(&found, &set(expected), "[{table}]");
    }
    let image = schema["properties"]["images"]["additionalProperties"].clone();
    let image = match image["$ref"].as_str() {
        Some(reference) => schema
            .pointer(reference.trim_start_matches('#'))
            .unwrap()
            .clone(),
        None => image,
    };
    let found: BTreeSet<String> = image["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(found, set(keys::IMAGE), "[images.ID]");
    let engines = schema["properties"]["engines"]["items"].clone();
    let engines = match engines["$ref"].as_str() {
        Some(reference) => schema
            .pointer(reference.trim_start_matches('#'))
            .unwrap()
            .clone(),
        None => engines,
    };
    let found: BTreeSet<String> = engines["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(found, set(keys::POOL_ENGINE), "[[engines]]");
}

#[test]
fn the_report_schema_describes_the_document_with_its_version() {
    let schema = report(7);
    assert_eq!(schema["properties"]["version"]["const"], 7);
    assert_eq!(schema["required"][0], "version");
    let text = schema.to_string();
    for named in [
        "images",
        "totals",
        "reasons",
        "schedule-fired",
        "never-built",
        "last_reasons",
    ] {
        assert!(text.contains(named), "{named} in {text}");
    }
}
