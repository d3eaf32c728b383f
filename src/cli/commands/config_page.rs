//! golden.toml(5) (`golden man golden.toml`): rendered from the config's
//! JSON Schema (`golden schema config`), which a test holds to the keys
//! the reader takes, so the page cannot drift from them either.

use serde_json::Value;

/// The order tables are shown in (any the schema adds come after).
const ORDER: &[&str] = &[
    "registry", "engine", "engines", "defaults", "images", "policy", "notify", "backoff",
];

/// The page, roff.
pub fn render(schema: &Value) -> String {
    let mut page =
        String::from(".TH golden.toml 5\n.SH NAME\ngolden.toml \\- the config of golden\n");
    page.push_str(".SH SYNOPSIS\n\\fIgolden.toml\\fR, in the directory golden runs in or a parent, or \\fB\\-c\\fR \\fIPATH\\fR\n");
    page.push_str(&format!(
        ".SH DESCRIPTION\n{}\n",
        escape(text(&schema["description"]))
    ));
    page.push_str(".PP\nFor editors: \\fBgolden schema config\\fR prints this page's keys as a JSON Schema.\n");
    let properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut tables: Vec<&String> = properties.keys().collect();
    tables.sort_by_key(|key| {
        ORDER
            .iter()
            .position(|known| known == key)
            .unwrap_or(ORDER.len())
    });
    for key in tables {
        let node = resolve(schema, &properties[key]);
        match key.as_str() {
            "images" => {
                let image = resolve(schema, &node["additionalProperties"]);
                table(&mut page, schema, "[images.ID]", &node, Some(&image));
            }
            "engines" => {
                let engine = resolve(schema, &node["items"]);
                table(&mut page, schema, "[[engines]]", &node, Some(&engine));
            }
            _ => table(&mut page, schema, &format!("[{key}]"), &node, None),
        }
    }
    page.push_str(".SH \"SEE ALSO\"\n\\fBgolden\\fR(1), \\fBgolden\\-validate\\fR(1)\n");
    page
}

/// A section for one table: its description, then a tagged paragraph per
/// key; `entry` is the table of each entry of a map or array table.
fn table(page: &mut String, schema: &Value, title: &str, node: &Value, entry: Option<&Value>) {
    page.push_str(&format!(".SH \"{}\"\n", escape(title)));
    if let Some(description) = node["description"].as_str() {
        page.push_str(&format!("{}\n", escape(description)));
    }
    let keys = entry.unwrap_or(node);
    let Some(properties) = keys["properties"].as_object() else {
        return;
    };
    for (key, value) in properties {
        let value = resolve(schema, value);
        page.push_str(&format!(
            ".TP\n\\fB{}\\fR (\\fI{}\\fR)\n{}\n",
            escape(key),
            escape(&kind(schema, &value)),
            escape(text(&value["description"]))
        ));
        let said = text(&value["description"]).contains("default");
        if let Some(default) = value.get("default").filter(|_| !said) {
            page.push_str(&format!("Default: {}.\n", escape(&default.to_string())));
        }
    }
}

/// `node`, with a `$ref` followed.
fn resolve(schema: &Value, node: &Value) -> Value {
    match node["$ref"].as_str() {
        Some(reference) => {
            let target = schema
                .pointer(reference.trim_start_matches('#'))
                .cloned()
                .unwrap_or(Value::Null);
            // A description beside the `$ref` says more than the target's.
            match (node.get("description"), target) {
                (Some(description), Value::Object(mut map)) => {
                    map.insert("description".into(), description.clone());
                    Value::Object(map)
                }
                (_, target) => target,
            }
        }
        None => node.clone(),
    }
}

/// The value's type in words: `string`, `one of "a", "b"`, `array of
/// string`, `string or table`.
fn kind(schema: &Value, node: &Value) -> String {
    if let Some(values) = node["enum"].as_array() {
        let values: Vec<String> = values.iter().map(Value::to_string).collect();
        return format!("one of {}", values.join(", "));
    }
    if let Some(value) = node.get("const") {
        return value.to_string();
    }
    for combined in ["anyOf", "oneOf"] {
        if let Some(options) = node[combined].as_array() {
            let kinds: Vec<String> = options
                .iter()
                .map(|option| kind(schema, &resolve(schema, option)))
                .collect();
            return kinds.join(" or ");
        }
    }
    match &node["type"] {
        Value::String(name) if name == "array" => {
            format!(
                "array of {}",
                kind(schema, &resolve(schema, &node["items"]))
            )
        }
        Value::String(name) if name == "object" => "table".to_string(),
        Value::String(name) => name.clone(),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .map(|name| if name == "object" { "table" } else { name })
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_string(),
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

/// Text for roff: backslashes and hyphens escaped, no line starting with
/// a control character.
fn escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.starts_with(['.', '\'']) {
        true => format!("\\&{escaped}"),
        false => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_and_key_of_the_schema_has_its_paragraph() {
        let schema = golden_core::schema::config();
        let page = render(&schema);
        for title in [
            "[registry]",
            "[images.ID]",
            "[[engines]]",
            "[notify]",
            "[defaults]",
        ] {
            assert!(page.contains(&format!(".SH \"{title}\"")), "{title}");
        }
        for key in [
            "host",
            "namespace",
            "schedule",
            "webhook\\-env",
            "builder",
            "secrets",
        ] {
            let key = key.replace("\\-", "_");
            assert!(page.contains(&format!(".TP\n\\fB{key}\\fR")), "{key}");
        }
        assert!(
            page.contains("one of \"auto\", \"buildkit\", \"classic\""),
            "{page}"
        );
    }
}
