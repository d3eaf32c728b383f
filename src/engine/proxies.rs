//! The proxies of the docker CLI's config (`proxies` in
//! `$DOCKER_CONFIG/config.json`), passed to builds as the CLI passes them:
//! the entry named by the engine's address, else `default`; each of
//! `httpProxy`, `httpsProxy`, `noProxy`, `ftpProxy` and `allProxy` that is
//! set becomes the build args `HTTP_PROXY` and `http_proxy` (and so on),
//! unless golden.toml sets that arg. They are Docker's predefined proxy
//! args: the builders leave them out of the cache key and the image's
//! history, and golden leaves them out of the recipe, so a proxy that
//! changes does not rebuild anything.

use std::collections::BTreeMap;
use std::path::Path;

/// The config keys and the build args each one sets.
const KEYS: [(&str, &str); 5] = [
    ("httpProxy", "HTTP_PROXY"),
    ("httpsProxy", "HTTPS_PROXY"),
    ("noProxy", "NO_PROXY"),
    ("ftpProxy", "FTP_PROXY"),
    ("allProxy", "ALL_PROXY"),
];

/// The build args of `config`'s proxies for the engine at `host`, upper
/// and lower case, in a stable order.
pub fn build_args(config: &serde_json::Value, host: &str) -> Vec<(String, String)> {
    let proxies = &config["proxies"];
    let entry = match proxies.get(host) {
        Some(entry) => entry,
        None => &proxies["default"],
    };
    let mut args = Vec::new();
    for (key, arg) in KEYS {
        if let Some(value) = entry[key].as_str().filter(|value| !value.is_empty()) {
            args.push((arg.to_string(), value.to_string()));
            args.push((arg.to_lowercase(), value.to_string()));
        }
    }
    args
}

/// The proxy build args for the engine at `host` from the docker config
/// in `directory` (`DOCKER_CONFIG`, else `~/.docker`). A missing config
/// has none; one that cannot be parsed is logged and has none, as the
/// docker config is read elsewhere (credentials say more about it).
pub fn from_docker_config(directory: Option<&Path>, host: &str) -> Vec<(String, String)> {
    let Some(path) = directory.map(|directory| directory.join("config.json")) else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(config) => build_args(&config, host),
        Err(error) => {
            tracing::warn!(path = %path.display(), "the docker config is not JSON, so its proxies are not passed to builds: {error}");
            Vec::new()
        }
    }
}

/// `args` with `proxies` added: a proxy golden.toml sets in either
/// spelling wins, and then neither spelling comes from the config
/// (BuildKit reads `HTTP_PROXY` and `http_proxy` as one, whichever it
/// meets first in a map, so two values would be a coin toss).
pub fn merged(
    args: &BTreeMap<String, String>,
    proxies: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut merged = args.clone();
    for (name, value) in proxies {
        if !args.keys().any(|set| set.eq_ignore_ascii_case(name)) {
            merged.insert(name.clone(), value.clone());
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_engines_entry_then_default_upper_and_lower_case() {
        let config = json!({"proxies": {
            "default": {"httpProxy": "http://proxy:3128", "noProxy": "*.local", "ftpProxy": ""},
            "tcp://build-2:2376": {"httpsProxy": "http://other:8080"},
        }});
        assert_eq!(
            build_args(&config, "unix:///var/run/docker.sock"),
            [
                ("HTTP_PROXY", "http://proxy:3128"),
                ("http_proxy", "http://proxy:3128"),
                ("NO_PROXY", "*.local"),
                ("no_proxy", "*.local"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(
            build_args(&config, "tcp://build-2:2376"),
            [
                ("HTTPS_PROXY", "http://other:8080"),
                ("https_proxy", "http://other:8080"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(build_args(&json!({}), "x").is_empty());
        assert!(build_args(&json!({"proxies": []}), "x").is_empty());
    }

    #[test]
    fn a_proxy_golden_toml_sets_in_either_spelling_wins() {
        let set = BTreeMap::from([("http_proxy".to_string(), "http://mine".to_string())]);
        let proxies = vec![
            ("HTTP_PROXY".to_string(), "http://cli".to_string()),
            ("http_proxy".to_string(), "http://cli".to_string()),
        ];
        assert_eq!(
            merged(&set, &proxies),
            BTreeMap::from([("http_proxy".to_string(), "http://mine".to_string())]),
            "neither spelling comes from the config"
        );
    }
}
