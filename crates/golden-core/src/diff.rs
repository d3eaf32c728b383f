//! `golden diff ID A B`: what changed between two builds of a line, read
//! from what each build recorded: its manifest digest, when it was made,
//! the base it was built FROM, its recipe and how many of the recipe's
//! parts changed, the commit and repository it came from, why the newer
//! one was made, the other labels, its platforms and its size; then layer
//! by layer: the layers both share, and those only one has, with their
//! sizes and the steps that made them.
//!
//! Pure: the two builds' configs are handed in.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::labels;
use crate::registry::{ImageConfig, Layer};

/// One build, as the registry holds it.
pub struct Build<'a> {
    /// The exact version, as the user named it.
    pub version: &'a str,
    pub config: &'a ImageConfig,
    /// The platforms of a multi-platform build's index; empty for one image.
    pub platforms: &'a [String],
}

/// One row of a diff: a fact of both builds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub field: String,
    pub from: String,
    pub to: String,
    pub changed: bool,
}

/// The whole diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub id: String,
    pub from: String,
    pub to: String,
    pub rows: Vec<Row>,
    pub layers: Layers,
    /// The packages the two builds' SBOMs list, compared; `None` when
    /// they were not (see `packages_not_compared`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<Packages>,
    /// Why the packages were not compared (a build has no SBOM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages_not_compared: Option<String>,
}

/// The packages of two builds, from their SBOMs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Packages {
    /// The platform whose SBOMs were compared, for a multi-platform line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The packages added, removed or changed.
    pub changes: Vec<crate::sbom::Change>,
    /// How many packages both list at the same version.
    pub unchanged: usize,
}

/// The packages of the SBOMs `old` and `new` compared.
pub fn packages(
    old: &[crate::sbom::Entry],
    new: &[crate::sbom::Entry],
    platform: Option<String>,
) -> Packages {
    let changes = crate::sbom::changes(old, new);
    let changed: BTreeSet<&str> = changes.iter().map(|change| change.name.as_str()).collect();
    let unchanged = new
        .iter()
        .filter(|entry| entry.kind != "container" && !changed.contains(entry.name.as_str()))
        .count();
    Packages {
        platform,
        changes,
        unchanged,
    }
}

/// The two builds' layers compared by digest (for a multi-platform build,
/// those of the image its config was read from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layers {
    /// How many layers both have, and their bytes.
    pub shared: usize,
    pub shared_bytes: u64,
    /// The layers only the older build has, bottom first.
    pub removed: Vec<Layer>,
    /// The layers only the newer build has, bottom first.
    pub added: Vec<Layer>,
}

/// The layers of `a` and `b` compared by digest.
pub fn layers(a: &[Layer], b: &[Layer]) -> Layers {
    let in_a: BTreeSet<&str> = a.iter().map(|layer| layer.digest.as_str()).collect();
    let in_b: BTreeSet<&str> = b.iter().map(|layer| layer.digest.as_str()).collect();
    let shared: Vec<&Layer> = b
        .iter()
        .filter(|layer| in_a.contains(layer.digest.as_str()))
        .collect();
    Layers {
        shared: shared.len(),
        shared_bytes: shared.iter().map(|layer| layer.size).sum(),
        removed: a
            .iter()
            .filter(|layer| !in_b.contains(layer.digest.as_str()))
            .cloned()
            .collect(),
        added: b
            .iter()
            .filter(|layer| !in_a.contains(layer.digest.as_str()))
            .cloned()
            .collect(),
    }
}

/// Labels every row below already speaks for.
const SHOWN: &[&str] = &[
    labels::CREATED,
    labels::BASE_NAME,
    labels::BASE_DIGEST,
    labels::RECIPE,
    labels::RECIPE_PARTS,
    labels::REVISION,
    labels::SOURCE,
    labels::REASONS,
    labels::VERSION,
];

/// What `build` was built FROM: the base's name and short digest.
fn base(build: &Build<'_>) -> String {
    let name = build.config.label(labels::BASE_NAME).unwrap_or_default();
    let digest = build.config.label(labels::BASE_DIGEST).unwrap_or_default();
    match (name.is_empty(), digest.is_empty()) {
        (true, _) => "scratch".to_string(),
        (false, true) => name,
        (false, false) => format!("{name} @ {}", short(&digest)),
    }
}

/// What changed from build `a` to build `b` of line `id`.
pub fn diff(id: &str, a: &Build<'_>, b: &Build<'_>) -> Diff {
    let label = |build: &Build<'_>, key: &str| build.config.label(key).unwrap_or_default();
    let mut rows = Vec::new();
    row(
        &mut rows,
        "digest",
        a.config.digest.to_string(),
        b.config.digest.to_string(),
    );
    row(
        &mut rows,
        "created",
        a.config.created().unwrap_or_default(),
        b.config.created().unwrap_or_default(),
    );
    row(&mut rows, "base", base(a), base(b));
    row(
        &mut rows,
        "recipe",
        short(&label(a, labels::RECIPE)),
        short(&label(b, labels::RECIPE)),
    );
    let (parts_from, parts_to) = (
        label(a, labels::RECIPE_PARTS),
        label(b, labels::RECIPE_PARTS),
    );
    if let Some(changed) = parts_changed(&parts_from, &parts_to) {
        rows.push(Row {
            field: "recipe parts".into(),
            from: format!("{} part(s)", parts_from.split(' ').skip(1).count()),
            to: changed,
            changed: parts_from != parts_to,
        });
    }
    let mut row = |field: &str, from: String, to: String| row(&mut rows, field, from, to);
    row(
        "revision",
        label(a, labels::REVISION),
        label(b, labels::REVISION),
    );
    row("source", label(a, labels::SOURCE), label(b, labels::SOURCE));
    row(
        "because",
        label(a, labels::REASONS),
        label(b, labels::REASONS),
    );
    row("platforms", a.platforms.join(", "), b.platforms.join(", "));
    row("size", mebibytes(a.config.size), mebibytes(b.config.size));
    let keys: BTreeSet<&String> = a
        .config
        .labels
        .keys()
        .chain(b.config.labels.keys())
        .filter(|key| !SHOWN.contains(&key.as_str()))
        .collect();
    for key in keys {
        row(
            &format!("label {key}"),
            a.config.labels.get(key).cloned().unwrap_or_default(),
            b.config.labels.get(key).cloned().unwrap_or_default(),
        );
    }
    Diff {
        id: id.to_string(),
        from: a.version.to_string(),
        to: b.version.to_string(),
        rows,
        layers: layers(&a.config.layers, &b.config.layers),
        packages: None,
        packages_not_compared: None,
    }
}

/// Adds the row of `field`: `-` for an empty value, changed when the two
/// differ.
fn row(rows: &mut Vec<Row>, field: &str, from: String, to: String) {
    let dash = |text: String| match text.is_empty() {
        true => "-".to_string(),
        false => text,
    };
    let (from, to) = (dash(from), dash(to));
    rows.push(Row {
        field: field.to_string(),
        changed: from != to,
        from,
        to,
    });
}

/// How many of the recipe's parts differ between two parts labels (names
/// are hashed there, so only counted): `None` when either is not one
/// golden can read.
fn parts_changed(from: &str, to: &str) -> Option<String> {
    let parse = |text: &str| -> Option<std::collections::BTreeMap<String, String>> {
        let mut words = text.split(' ');
        (words.next()? == "v1").then_some(())?;
        words
            .filter(|word| !word.is_empty())
            .map(|word| {
                word.split_once('=')
                    .map(|(name, hash)| (name.to_string(), hash.to_string()))
            })
            .collect()
    };
    let (old, new) = (parse(from)?, parse(to)?);
    let changed = new
        .iter()
        .filter(|(name, hash)| old.get(*name).is_some_and(|before| before != *hash))
        .count();
    let added = new.keys().filter(|name| !old.contains_key(*name)).count();
    let removed = old.keys().filter(|name| !new.contains_key(*name)).count();
    Some(format!(
        "{} part(s): {changed} changed, {added} added, {removed} removed",
        new.len()
    ))
}

fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    match hex.get(..12) {
        Some(head) if digest.starts_with("sha256:") => format!("sha256:{head}"),
        _ => digest.to_string(),
    }
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The diff as text: a line per fact that changed, then the ones that did
/// not, by name.
pub fn render_text(diff: &Diff) -> String {
    let mut text = format!("{} {} -> {}\n", diff.id, diff.from, diff.to);
    let width = diff
        .rows
        .iter()
        .filter(|row| row.changed)
        .map(|row| row.field.len())
        .max()
        .unwrap_or(0);
    for row in diff.rows.iter().filter(|row| row.changed) {
        text.push_str(&format!(
            "  {:<width$}  {}\n  {:<width$}  -> {}\n",
            row.field, row.from, "", row.to
        ));
    }
    let same: Vec<&str> = diff
        .rows
        .iter()
        .filter(|row| !row.changed)
        .map(|row| row.field.as_str())
        .collect();
    if !same.is_empty() {
        text.push_str(&format!("  unchanged: {}\n", same.join(", ")));
    }
    text.push_str(&layers_text(&diff.layers));
    text.push_str(&packages_text(diff));
    text
}

/// The packages part of the text: a line per package added (`+`),
/// removed (`-`) or changed (`~ old -> new`).
fn packages_text(diff: &Diff) -> String {
    let Some(packages) = &diff.packages else {
        return diff
            .packages_not_compared
            .as_ref()
            .map_or_else(String::new, |why| {
                format!("  packages: not compared: {why}\n")
            });
    };
    let platform = packages
        .platform
        .as_ref()
        .map_or_else(String::new, |platform| format!(" ({platform})"));
    let mut text = format!(
        "  packages{platform}: {} changed, {} unchanged\n",
        packages.changes.len(),
        packages.unchanged
    );
    for change in &packages.changes {
        text.push_str(&match (&change.old, &change.new) {
            (None, Some(new)) => format!("    + {} {new}\n", change.name),
            (Some(old), None) => format!("    - {} {old}\n", change.name),
            (Some(old), Some(new)) => format!("    ~ {} {old} -> {new}\n", change.name),
            (None, None) => String::new(),
        });
    }
    text
}

/// The layers part of the text: the shared count, then a line per layer
/// only one build has (`-` the older's, `+` the newer's).
fn layers_text(layers: &Layers) -> String {
    let mut text = format!(
        "  layers: {} shared ({}), {} removed, {} added\n",
        layers.shared,
        size(layers.shared_bytes),
        layers.removed.len(),
        layers.added.len()
    );
    let lines = layers
        .removed
        .iter()
        .map(|layer| ('-', layer))
        .chain(layers.added.iter().map(|layer| ('+', layer)));
    for (sign, layer) in lines {
        let step = layer
            .created_by
            .as_deref()
            .map(step_text)
            .unwrap_or_default();
        let line = format!(
            "    {sign} {}  {:>9}  {step}",
            short(&layer.digest),
            size(layer.size)
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// The step that made a layer, as a Dockerfile says it: the classic
/// builder's `/bin/sh -c #(nop) ` and `/bin/sh -c ` prefixes read as the
/// instruction, on one line, at most 80 characters.
fn step_text(created_by: &str) -> String {
    let step = created_by.trim();
    let step = match step.strip_prefix("/bin/sh -c #(nop) ") {
        Some(rest) => rest.trim().to_string(),
        None => match step.strip_prefix("/bin/sh -c ") {
            Some(rest) => format!("RUN {}", rest.trim()),
            None => step.to_string(),
        },
    };
    let step = crate::sanitize::text(&step.replace(['\n', '\t'], " ")).into_owned();
    match step.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &step[..at]),
        None => step,
    }
}

/// Bytes in the largest unit that keeps a whole number in front.
fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => mebibytes(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn config(digest: char, labels: &[(&str, &str)], size: u64) -> ImageConfig {
        let mut config = ImageConfig::empty(crate::testing::digest(&digest.to_string()));
        config.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>();
        config.size = size;
        config
    }

    #[test]
    fn a_rebuild_for_a_base_update_shows_the_base_the_reason_and_the_size() {
        let a = config(
            'a',
            &[
                (labels::BASE_NAME, "mcr/aspnet:10.0"),
                (labels::BASE_DIGEST, "sha256:1111111111111111aaaa"),
                (labels::RECIPE, "sha256:2222222222222222"),
                (labels::RECIPE_PARTS, "v1 a=1 b=2 c=3"),
                (labels::REASONS, "never built"),
                ("owner", "platform"),
            ],
            10 * 1024 * 1024,
        );
        let b = config(
            'b',
            &[
                (labels::BASE_NAME, "mcr/aspnet:10.0"),
                (labels::BASE_DIGEST, "sha256:9999999999999999bbbb"),
                (labels::RECIPE, "sha256:2222222222222222"),
                (labels::RECIPE_PARTS, "v1 a=1 b=5 d=4"),
                (labels::REASONS, "base updated"),
                ("owner", "apps"),
            ],
            11 * 1024 * 1024,
        );
        let diff = diff(
            "aspnet",
            &Build {
                version: "10.0.1",
                config: &a,
                platforms: &[],
            },
            &Build {
                version: "10.0.2",
                config: &b,
                platforms: &[],
            },
        );
        let text = render_text(&diff);
        for shown in [
            "aspnet 10.0.1 -> 10.0.2",
            "base          mcr/aspnet:10.0 @ sha256:111111111111",
            "-> mcr/aspnet:10.0 @ sha256:999999999999",
            "-> 3 part(s): 1 changed, 1 added, 1 removed",
            "because       never built",
            "-> base updated",
            "size          10.0 MiB",
            "-> 11.0 MiB",
            "label owner   platform",
            "unchanged: created, recipe, revision, source, platforms",
        ] {
            assert!(text.contains(shown), "no `{shown}` in\n{text}");
        }
    }

    #[test]
    fn layers_are_compared_by_digest_with_the_steps_that_made_them() {
        let layer = |digest: &str, size: u64, step: Option<&str>| Layer {
            digest: format!("sha256:{digest}"),
            size,
            created_by: step.map(str::to_string),
        };
        let a = vec![
            layer(
                "base",
                2_000_000,
                Some("/bin/sh -c #(nop) ADD file:abc in / "),
            ),
            layer("old", 300, Some("/bin/sh -c echo one > /motd")),
        ];
        let b = vec![
            layer(
                "base",
                2_000_000,
                Some("/bin/sh -c #(nop) ADD file:abc in / "),
            ),
            layer("new", 5_000, Some("COPY rootfs/ / # buildkit")),
            layer("more", 10, None),
        ];
        let compared = layers(&a, &b);
        assert_eq!((compared.shared, compared.shared_bytes), (1, 2_000_000));
        assert_eq!(compared.removed, vec![a[1].clone()]);
        assert_eq!(compared.added, vec![b[1].clone(), b[2].clone()]);
        let text = layers_text(&compared);
        assert!(
            text.contains("layers: 1 shared (1.9 MiB), 1 removed, 2 added"),
            "{text}"
        );
        assert!(
            text.contains("- sha256:old      300 B  RUN echo one > /motd"),
            "{text}"
        );
        assert!(
            text.contains("+ sha256:new    4.9 KiB  COPY rootfs/ / # buildkit"),
            "{text}"
        );
        assert!(text.contains("+ sha256:more       10 B\n"), "{text}");
        assert_eq!(
            step_text(&format!("/bin/sh -c {}", "x".repeat(100)))
                .chars()
                .count(),
            81
        );
    }
}
