//! `golden check`: application Dockerfiles must start FROM a golden image of
//! this config (or a base `[policy] allow` lists), naming a configured line
//! by `X.Y`, `X` or `X.Y.N` (not `latest`, not untagged, unless
//! `allow_latest`). Findings carry file, line, column, a rule id and the fix;
//! they render as text, JSON or SARIF for code-scanning UIs.
//!
//! Judges the texts it is given (the command reads the files); no
//! network, no engine. With
//! `--verify-digests`, a golden image named by digest is also looked up in
//! the registry (the lookups are the command's; the decision,
//! [`check_pins`], is pure here): it must be a build golden published. For
//! a multi-platform line that is the index digest; one platform's image of
//! it pins that platform only and is reported with the index to use.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::config::Config;
use crate::dockerfile::{Base, Dockerfile, Stage};
use crate::reference::Reference;
use crate::version::{Line, TagTarget};

/// One problem in one Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub file: String,
    /// `file` as a SARIF `artifactLocation.uri`: see [`artifact_uri`].
    #[serde(skip)]
    pub uri: String,
    pub line: usize,
    pub column: usize,
    /// A stable id: `not-golden`, `unknown-golden-image`, `latest-or-untagged`,
    /// `unconfigured-line`, `unmoved-floating-tag`, `unparsable`; with
    /// `--verify-digests` also
    /// `platform-image` and `unknown-digest`; with `--verify-signatures`
    /// `unsigned`.
    pub rule: &'static str,
    pub message: String,
    pub fix: String,
}

/// The findings of one Dockerfile's text.
pub fn check_text(
    config: &Config,
    file: &Path,
    text: &str,
    build_args: &BTreeMap<String, String>,
) -> Vec<Finding> {
    let name = file.display().to_string();
    let uri = artifact_uri(file);
    let dockerfile = match Dockerfile::parse(text, build_args) {
        Ok(dockerfile) => dockerfile,
        Err(error) => {
            let line = error.line().unwrap_or(1);
            return vec![Finding {
                file: name,
                uri,
                line,
                column: 1,
                rule: "unparsable",
                message: error.to_string(),
                fix: "fix the FROM line; pass build args with --build-arg NAME=VALUE".to_string(),
            }];
        }
    };
    let final_root = dockerfile.final_root().clone();
    let mut stages: Vec<(&Stage, bool)> = vec![(&final_root, true)];
    if config.policy.all_stages {
        stages.extend(
            dockerfile
                .stages
                .iter()
                .filter(|stage| **stage != final_root)
                .map(|stage| (stage, false)),
        );
    }
    let mut findings: Vec<Finding> = stages
        .into_iter()
        .filter_map(|(stage, is_final)| {
            let (rule, message, fix, image) = check_stage(config, stage, is_final)?;
            let physical = text
                .lines()
                .nth(stage.first_line.saturating_sub(1))
                .unwrap_or("");
            let column = image
                .as_deref()
                .and_then(|image| physical.find(image))
                .map_or(1, |index| index + 1);
            Some(Finding {
                file: name.clone(),
                uri: uri.clone(),
                line: stage.first_line,
                column,
                rule,
                message,
                fix,
            })
        })
        .collect();
    findings.sort_by_key(|finding| (finding.line, finding.column));
    findings
}

/// A FROM that names a configured golden image by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub file: String,
    /// `file` as a URI reference: see [`artifact_uri`].
    pub uri: String,
    pub line: usize,
    pub column: usize,
    pub reference: Reference,
}

/// Every FROM of `text` (the final stage's, every stage's with
/// `all_stages`) that names a configured golden image by digest; nothing
/// for a file that does not parse (`check_text` reports it).
pub fn digest_pins(
    config: &Config,
    file: &Path,
    text: &str,
    build_args: &BTreeMap<String, String>,
) -> Vec<Pin> {
    golden_froms(config, file, text, build_args, true)
}

/// Every FROM of `text` (the final stage's, every stage's with
/// `all_stages`) that names a configured golden image, by tag or digest
/// (`digest_only`: by digest only); nothing for a file that does not parse.
pub fn golden_froms(
    config: &Config,
    file: &Path,
    text: &str,
    build_args: &BTreeMap<String, String>,
    digest_only: bool,
) -> Vec<Pin> {
    let Ok(dockerfile) = Dockerfile::parse(text, build_args) else {
        return Vec::new();
    };
    let final_root = dockerfile.final_root().clone();
    let mut stages = vec![&final_root];
    if config.policy.all_stages {
        stages.extend(
            dockerfile
                .stages
                .iter()
                .filter(|stage| **stage != final_root),
        );
    }
    let mut pins: Vec<Pin> = stages
        .into_iter()
        .filter_map(|stage| {
            let Base::Image(reference) = &stage.base else {
                return None;
            };
            if digest_only {
                reference.digest()?;
            }
            let name = config.golden_name(reference)?;
            config.images.iter().find(|image| image.name == name)?;
            let physical = text
                .lines()
                .nth(stage.first_line.saturating_sub(1))
                .unwrap_or("");
            Some(Pin {
                file: file.display().to_string(),
                uri: artifact_uri(file),
                line: stage.first_line,
                column: physical
                    .find(reference.original())
                    .map_or(1, |index| index + 1),
                reference: reference.clone(),
            })
        })
        .collect();
    pins.sort_by_key(|pin| (pin.line, pin.column));
    pins
}

/// What a digest of a golden repository is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The manifest (or index) of the build `version`.
    Build { version: String },
    /// `platform`'s image in the index `index` of the build `version`.
    PlatformImage {
        version: String,
        platform: String,
        index: String,
    },
}

/// The findings of `pins`, given what each golden repository (by
/// `host/path`) holds: digest -> what it is. A digest that is a build
/// passes; a platform image of a build's index is `platform-image`;
/// anything else `unknown-digest`.
pub fn check_pins(
    pins: &[Pin],
    published: &BTreeMap<String, BTreeMap<String, Published>>,
) -> Vec<Finding> {
    let empty = BTreeMap::new();
    pins.iter()
        .filter_map(|pin| {
            let repository = pin.reference.repository();
            let digest = pin.reference.digest()?.to_string();
            let known = published.get(&repository).unwrap_or(&empty);
            let (rule, message, fix) = match known.get(&digest) {
                Some(Published::Build { .. }) => return None,
                Some(Published::PlatformImage {
                    version,
                    platform,
                    index,
                }) => (
                    "platform-image",
                    format!(
                        "`{}` is the {platform} image of {version}, not the build: it pins one platform, so other platforms get no image (or the wrong one)",
                        pin.reference.original()
                    ),
                    format!("name the build's index: {repository}@{index}"),
                ),
                None => (
                    "unknown-digest",
                    format!(
                        "`{}` is no build golden published in `{repository}`",
                        pin.reference.original()
                    ),
                    format!(
                        "name a line ({repository}:X.Y) or the digest of a build `golden inspect` lists"
                    ),
                ),
            };
            Some(Finding {
                file: pin.file.clone(),
                uri: pin.uri.clone(),
                line: pin.line,
                column: pin.column,
                rule,
                message,
                fix,
            })
        })
        .collect()
}

type Problem = (&'static str, String, String, Option<String>);

/// What is wrong with the base of `stage`, if anything.
fn check_stage(config: &Config, stage: &Stage, is_final: bool) -> Option<Problem> {
    let which = if is_final {
        "the final stage"
    } else {
        "a build stage"
    };
    let reference = match &stage.base {
        Base::Stage(_) => return None,
        Base::Scratch => {
            let allowed = config
                .policy
                .allow
                .texts
                .iter()
                .any(|pattern| pattern == "scratch");
            return (!allowed).then(|| {
                (
                    "not-golden",
                    format!("{which} starts FROM scratch, which is not a golden image"),
                    format!(
                        "start FROM a golden image ({}), or add \"scratch\" to [policy] allow",
                        golden_examples(config)
                    ),
                    None,
                )
            });
        }
        Base::Image(reference) => reference,
    };
    let Some(name) = config.golden_name(reference) else {
        if config.policy.allow.matches(reference) {
            return None;
        }
        return Some((
            "not-golden",
            format!("{which} starts FROM `{reference}`, which is not a golden image"),
            format!(
                "start FROM a golden image instead: {}",
                golden_examples(config)
            ),
            Some(reference.original().to_string()),
        ));
    };
    check_golden(config, reference, &name)
}

fn check_golden(config: &Config, reference: &Reference, name: &str) -> Option<Problem> {
    let original = Some(reference.original().to_string());
    let images: Vec<&crate::config::Image> = config
        .images
        .iter()
        .filter(|image| image.name == name)
        .collect();
    let lines: Vec<Line> = images.iter().map(|image| image.version).collect();
    if lines.is_empty() {
        return Some((
            "unknown-golden-image",
            format!("`{reference}` names `{name}`, which is not a golden image of this config"),
            format!("use one of: {}", golden_examples(config)),
            original,
        ));
    }
    let configured = || {
        lines
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let repository = reference.repository();
    let tag = match (reference.tag(), reference.digest()) {
        (None, Some(_)) => return None,
        (None, None) | (Some("latest"), _) if config.policy.allow_latest => return None,
        (None, None) | (Some("latest"), _) => {
            return Some((
                "latest-or-untagged",
                format!(
                "`{reference}` follows `latest`, which moves to new major versions without warning"
            ),
                format!(
                    "name a line: {}",
                    lines
                        .iter()
                        .map(|line| format!("{repository}:{line}"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
                original,
            ))
        }
        (Some(tag), _) => tag,
    };
    let target = TagTarget::parse(Some(tag));
    let known = images
        .iter()
        .any(|image| crate::graph::produces(image, target));
    if !known {
        return Some((
            "unconfigured-line",
            format!("`{reference}` names `{tag}`, which is no configured line of `{name}`; configured lines: {}", configured()),
            format!("use {repository}:X.Y for one of {}", configured()),
            original,
        ));
    }
    // A line whose `floating` list leaves out `X.Y` never moves that tag:
    // what it names stays wherever it was.
    let unmoved = |line: Line| {
        images.iter().any(|image| {
            image.version == line
                && image
                    .floating
                    .as_ref()
                    .is_some_and(|list| !list.contains(&crate::version::Floating::Line))
        })
    };
    match target {
        TagTarget::Line(line) if unmoved(line) => Some((
            "unmoved-floating-tag",
            format!("`{reference}` names `{tag}`, which line {line} of `{name}` does not move (its `floating` list leaves out \"X.Y\")"),
            format!("name a tag the line moves or an exact build of {repository}, or add \"X.Y\" to the line's `floating` list"),
            original,
        )),
        _ => None,
    }
}

fn golden_examples(config: &Config) -> String {
    let examples: Vec<String> = config
        .images
        .iter()
        .map(|image| format!("{}:{}", config.repository(image), image.version))
        .collect();
    examples.join(", ")
}

/// `file:line:column: message` and the fix, then a summary line.
pub fn render_text(findings: &[Finding], files: usize) -> String {
    let mut text = String::new();
    for finding in findings {
        text.push_str(&format!(
            "{}:{}:{}: {} [{}]\n  fix: {}\n",
            finding.file, finding.line, finding.column, finding.message, finding.rule, finding.fix
        ));
    }
    if findings.is_empty() {
        text.push_str(&format!(
            "{files} Dockerfile(s) checked: all start FROM golden images\n"
        ));
    } else {
        let affected = findings
            .iter()
            .map(|f| &f.file)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        text.push_str(&format!(
            "{} problem(s) in {affected} of {files} Dockerfile(s)\n",
            findings.len()
        ));
    }
    text
}

/// The JSON document: files checked and findings.
pub fn render_json(findings: &[Finding], files: usize) -> String {
    #[derive(serde::Serialize)]
    struct Document {
        /// The format version, first as in every JSON document golden prints.
        version: u32,
        files_checked: usize,
        /// As a value: each finding's keys in the order they always had.
        findings: serde_json::Value,
    }
    let document = Document {
        version: 1,
        files_checked: files,
        findings: serde_json::to_value(findings).unwrap_or_default(),
    };
    serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
}

/// SARIF 2.1.0, for code-scanning UIs.
pub fn render_sarif(findings: &[Finding]) -> String {
    let rules = [
        "not-golden",
        "unknown-golden-image",
        "latest-or-untagged",
        "unconfigured-line",
        "unmoved-floating-tag",
        "unparsable",
        "platform-image",
        "unknown-digest",
        "unsigned",
    ];
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|finding| {
            serde_json::json!({
                "ruleId": finding.rule,
                "level": "error",
                "message": { "text": format!("{} Fix: {}", finding.message, finding.fix) },
                "locations": [{ "physicalLocation": {
                    "artifactLocation": { "uri": finding.uri },
                    "region": { "startLine": finding.line, "startColumn": finding.column }
                }}]
            })
        })
        .collect();
    let document = serde_json::json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": { "driver": {
                "name": "golden",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|id| serde_json::json!({ "id": id })).collect::<Vec<_>>()
            }},
            "results": results
        }]
    });
    serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
}

/// GitHub Actions workflow commands: an `::error` annotation per finding
/// at its file, line and column (shown on the pull request's diff and in
/// the run's summary), then the summary line as text.
pub fn render_github(findings: &[Finding], files: usize) -> String {
    // The workflow command escapes: data, and property values (which also
    // end at `,` and `:`).
    let data = |text: &str| {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |text: &str| data(text).replace(':', "%3A").replace(',', "%2C");
    let mut text = String::new();
    for finding in findings {
        text.push_str(&format!(
            "::error file={},line={},col={},title={}::{}\n",
            property(&finding.file),
            finding.line,
            finding.column,
            property(&format!("golden check: {}", finding.rule)),
            data(&format!("{} Fix: {}", finding.message, finding.fix))
        ));
    }
    let summary = render_text(&[], files);
    match findings.is_empty() {
        true => text.push_str(&summary),
        false => {
            let full = render_text(findings, files);
            text.push_str(full.lines().last().unwrap_or_default());
            text.push('\n');
        }
    }
    text
}

/// GitLab's Code Quality report (`artifacts:reports:codequality`): a JSON
/// array with an issue per finding, its fingerprint stable across runs
/// for the same problem at the same place.
pub fn render_codequality(findings: &[Finding]) -> String {
    use sha2::{Digest as _, Sha256};
    let issues: Vec<serde_json::Value> = findings
        .iter()
        .map(|finding| {
            let mut hash = Sha256::new();
            for part in [
                finding.rule,
                &finding.file,
                &finding.line.to_string(),
                &finding.message,
            ] {
                hash.update(part.as_bytes());
                hash.update([0]);
            }
            serde_json::json!({
                "description": format!("{} Fix: {}", finding.message, finding.fix),
                "check_name": finding.rule,
                "fingerprint": format!("{:x}", hash.finalize()),
                "severity": "major",
                "location": {
                    "path": finding.file,
                    "lines": { "begin": finding.line }
                }
            })
        })
        .collect();
    serde_json::to_string_pretty(&issues).unwrap_or_default() + "\n"
}

/// `path` as a URI reference (RFC 3986) for SARIF's
/// `artifactLocation.uri`: each segment percent-encoded from the path's
/// own bytes, so a space, `#`, `%` or a name that is not UTF-8 points at
/// the very file. Only unreserved characters stay as they are (a `:`
/// would read as a scheme); `.` and `..` stay segments.
pub fn artifact_uri(path: &Path) -> String {
    use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
    use std::path::Component;
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let mut uri = String::new();
    for component in path.components() {
        let segment = match component {
            Component::RootDir => {
                uri.push('/');
                continue;
            }
            Component::CurDir => ".".to_string(),
            Component::ParentDir => "..".to_string(),
            Component::Normal(name) => percent_encode(&os_bytes(name), SEGMENT).to_string(),
            Component::Prefix(prefix) => {
                percent_encode(&os_bytes(prefix.as_os_str()), SEGMENT).to_string()
            }
        };
        if !uri.is_empty() && !uri.ends_with('/') {
            uri.push('/');
        }
        uri.push_str(&segment);
    }
    uri
}

#[cfg(unix)]
fn os_bytes(name: &std::ffi::OsStr) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    std::borrow::Cow::Borrowed(name.as_bytes())
}

#[cfg(not(unix))]
fn os_bytes(name: &std::ffi::OsStr) -> std::borrow::Cow<'_, [u8]> {
    std::borrow::Cow::Owned(name.to_string_lossy().into_owned().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn sarif_uris_are_percent_encoded_from_the_raw_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let cases: [(&[u8], &str); 8] = [
            (b"app/Dockerfile", "app/Dockerfile"),
            (b"my app/Dockerfile", "my%20app/Dockerfile"),
            (b"c#/Dockerfile", "c%23/Dockerfile"),
            (b"lit%20/Dockerfile", "lit%2520/Dockerfile"),
            (b"caf\xe9/Dockerfile", "caf%E9/Dockerfile"),
            (b"a:b/Dockerfile.prod", "a%3Ab/Dockerfile.prod"),
            (b"/srv//apps/./x/../Dockerfile", "/srv/apps/x/../Dockerfile"),
            (b"./Dockerfile", "./Dockerfile"),
        ];
        for (path, expected) in cases {
            let path = Path::new(std::ffi::OsStr::from_bytes(path));
            assert_eq!(artifact_uri(path), expected, "{}", path.display());
        }
        let finding = check_text(
            &crate::config::Config::parse(
                crate::diagnostic::SourceFile::new(
                    Path::new("golden.toml"),
                    "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n",
                ),
                &crate::testing::TestDisk,
            )
            .0
            .unwrap(),
            Path::new(std::ffi::OsStr::from_bytes(b"my app/caf\xe9 #1/Dockerfile")),
            "FROM alpine:3\n",
            &BTreeMap::new(),
        );
        let sarif: serde_json::Value = serde_json::from_str(&render_sarif(&finding)).unwrap();
        let uri = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
            ["artifactLocation"]["uri"];
        assert_eq!(uri, "my%20app/caf%E9%20%231/Dockerfile");
    }

    fn pin(line: usize, text: &str) -> Pin {
        Pin {
            file: "app/Dockerfile".into(),
            uri: "app/Dockerfile".into(),
            line,
            column: 6,
            reference: text.parse().unwrap(),
        }
    }

    #[test]
    fn under_upstream_versioning_x_y_z_builds_and_previews_are_golden_tags() {
        let parsed = crate::config::Config::parse(
            crate::diagnostic::SourceFile::new(
                Path::new("golden.toml"),
                "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.aspnet]\nversion = \"10.0\"\ncontext = \".\"\nversioning = \"upstream\"\n\
upstream_version = { env = \"ASPNET_VERSION\" }\n\
[images.aspnet-preview]\nname = \"aspnet\"\nversion = \"11.0\"\ncontext = \".\"\n\
versioning = \"upstream\"\nupstream_version = { env = \"ASPNET_VERSION\" }\n\
[images.base]\nversion = \"1.0\"\ncontext = \".\"\n",
            ),
            &crate::testing::TestDisk,
        );
        let (config, problems) = parsed;
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        let rules = |from: &str| -> Vec<&'static str> {
            check_text(
                &config,
                Path::new("app/Dockerfile"),
                &format!("FROM {from}\n"),
                &BTreeMap::new(),
            )
            .into_iter()
            .map(|finding| finding.rule)
            .collect()
        };
        let repository = "registry.local:5000/golden";
        for good in [
            "aspnet:10.0.3",
            "aspnet:10.0.3-r2",
            "aspnet:11.0.0-preview.1",
            "aspnet:11.0.0-preview.1-r1",
            "aspnet:10.0",
            "base:1.0.4",
        ] {
            assert_eq!(rules(&format!("{repository}/{good}")), [""; 0], "{good}");
        }
        // Line versioning never writes an upstream-spelt tag; a version
        // outside the configured lines is still reported.
        for bad in [
            "base:1.0.4-r1",
            "base:1.0.4-preview.1",
            "aspnet:12.0.1",
            "aspnet:12.0.1-r1",
        ] {
            assert_eq!(
                rules(&format!("{repository}/{bad}")),
                ["unconfigured-line"],
                "{bad}"
            );
        }
    }

    /// Review finding 6: a line whose `floating` list leaves out `X.Y`
    /// never moves `10.0`, yet `FROM aspnet:10.0` passed.
    #[test]
    fn a_from_the_x_y_tag_of_a_line_that_does_not_move_it_is_reported() {
        let (config, problems) = crate::config::Config::parse(
            crate::diagnostic::SourceFile::new(
                Path::new("golden.toml"),
                "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.aspnet]\nversion = \"10.0\"\ncontext = \".\"\nversioning = \"upstream\"\n\
upstream_version = { env = \"ASPNET_VERSION\" }\nfloating = [\"X.Y.Z\", \"latest\"]\n",
            ),
            &crate::testing::TestDisk,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        let findings = |from: &str| {
            check_text(
                &config,
                Path::new("app/Dockerfile"),
                &format!("FROM registry.local:5000/golden/{from}\n"),
                &BTreeMap::new(),
            )
        };
        let found = findings("aspnet:10.0");
        let rules: Vec<&str> = found.iter().map(|finding| finding.rule).collect();
        assert_eq!(rules, ["unmoved-floating-tag"]);
        assert!(
            found[0]
                .message
                .contains("which line 10.0 of `aspnet` does not move"),
            "{}",
            found[0].message
        );
        for good in ["aspnet:10.0.3", "aspnet:10.0.3-r2"] {
            assert!(findings(good).is_empty(), "{good}");
        }
    }

    #[test]
    fn a_pinned_build_passes_and_a_platform_image_is_told_its_index() {
        let repository = "registry.local:5000/golden/base";
        let (index, arm64, other) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let published = BTreeMap::from([(
            repository.to_string(),
            BTreeMap::from([
                (
                    format!("sha256:{index}"),
                    Published::Build {
                        version: "1.0.3".into(),
                    },
                ),
                (
                    format!("sha256:{arm64}"),
                    Published::PlatformImage {
                        version: "1.0.3".into(),
                        platform: "linux/arm64".into(),
                        index: format!("sha256:{index}"),
                    },
                ),
            ]),
        )]);
        let pins = [
            pin(1, &format!("{repository}@sha256:{index}")),
            pin(2, &format!("{repository}@sha256:{arm64}")),
            pin(3, &format!("{repository}:1.0@sha256:{other}")),
        ];
        let findings = check_pins(&pins, &published);
        let rules: Vec<(usize, &str)> = findings.iter().map(|f| (f.line, f.rule)).collect();
        assert_eq!(rules, [(2, "platform-image"), (3, "unknown-digest")]);
        assert!(
            findings[0]
                .message
                .contains("the linux/arm64 image of 1.0.3"),
            "{}",
            findings[0].message
        );
        assert_eq!(
            findings[0].fix,
            format!("name the build's index: {repository}@sha256:{index}")
        );
        // A repository golden knows nothing of: every digest is unknown.
        let none = check_pins(&pins[..1], &BTreeMap::new());
        assert_eq!(none[0].rule, "unknown-digest");
    }

    #[test]
    fn github_annotations_and_gitlab_code_quality_locate_each_finding() {
        let finding = Finding {
            file: "app, v2/Dockerfile".into(),
            uri: String::new(),
            line: 3,
            column: 1,
            rule: "not-golden",
            message: "`FROM alpine:3` is not a golden image\nsecond line".into(),
            fix: "start FROM registry.local:5000/golden/base:1.0 (100%)".into(),
        };
        let github = render_github(std::slice::from_ref(&finding), 2);
        assert_eq!(
            github.lines().next().unwrap(),
            "::error file=app%2C v2/Dockerfile,line=3,col=1,title=golden check%3A not-golden::`FROM alpine:3` is not a golden image%0Asecond line Fix: start FROM registry.local:5000/golden/base:1.0 (100%25)"
        );
        assert_eq!(
            github.lines().nth(1),
            Some("1 problem(s) in 1 of 2 Dockerfile(s)")
        );
        assert_eq!(
            render_github(&[], 2),
            "2 Dockerfile(s) checked: all start FROM golden images\n"
        );
        let report: serde_json::Value =
            serde_json::from_str(&render_codequality(std::slice::from_ref(&finding))).unwrap();
        assert_eq!(report[0]["check_name"], "not-golden");
        assert_eq!(report[0]["location"]["path"], "app, v2/Dockerfile");
        assert_eq!(report[0]["location"]["lines"]["begin"], 3);
        assert_eq!(report[0]["severity"], "major");
        let again: serde_json::Value =
            serde_json::from_str(&render_codequality(&[finding])).unwrap();
        assert_eq!(report[0]["fingerprint"], again[0]["fingerprint"]);
        assert_eq!(report[0]["fingerprint"].as_str().unwrap().len(), 64);
        assert_eq!(render_codequality(&[]), "[]\n");
    }
}
