//! The images' Dockerfiles against their builders and build secrets, at
//! load time (`golden validate`, `plan`, every command): a Dockerfile that
//! uses what only BuildKit builds while the image (or its one engine) is
//! set to `builder = "classic"`, and a `RUN --mount=type=secret` whose
//! secret `[images.<id>.secrets]` does not provide, are config errors at
//! the Dockerfile's line. A secret mounted with `required=false` and not
//! provided, or provided and mounted by no step, is a warning. With a pool
//! of engines, which engine builds (and so which builder) is decided per
//! build by `config::builders::choose`; here only a pool whose every
//! engine that may take the image is classic is an error.
//!
//! Pure: the Dockerfile texts come from the graph.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::builders::{choose, BuilderChoice};
use crate::config::{Config, Image};
use crate::diagnostic::{closest, Diagnostic, SourceFile};
use crate::graph::{Graph, Node};

/// The problems (errors) and, by image id, the warnings.
pub fn check(config: &Config, graph: &Graph) -> (Vec<Diagnostic>, BTreeMap<String, Vec<String>>) {
    let mut problems = Vec::new();
    let mut warnings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for image in &config.images {
        // An image whose table has a problem gets no more (it may be the cause).
        let Some(node) = graph.nodes.get(&image.id) else {
            continue;
        };
        if config.reported.has_image(&image.id) {
            continue;
        }
        let file = SourceFile::new(&image.dockerfile_path(), &node.dockerfile_text);
        // One mistake, one error: a classic build has no secrets to check.
        if let Some(problem) = builder_problem(config, image, node, &file) {
            problems.push(problem);
            continue;
        }
        let (missing, unused) = secret_problems(image, node, &file);
        problems.extend(missing);
        if !unused.is_empty() {
            warnings.entry(image.id.clone()).or_default().extend(unused);
        }
    }
    (problems, warnings)
}

/// The image needs BuildKit (its Dockerfile, or its own `builder =
/// "buildkit"`) but no engine that may build it is allowed to run it.
fn builder_problem(
    config: &Config,
    image: &Image,
    node: &Node,
    file: &SourceFile,
) -> Option<Diagnostic> {
    let need = node.buildkit.as_ref();
    if image.builder == BuilderChoice::Classic {
        let need = need?;
        return Some(
            Diagnostic::at(
                file,
                file.line_span(need.line),
                format!(
                    "image `{}` builds with the classic builder, but its Dockerfile uses {}, which only BuildKit builds",
                    image.id, need.what
                ),
            )
            .label("BuildKit only")
            .hint(format!(
                "{} sets `builder = \"classic\"`: set it to \"buildkit\" or \"auto\", or change line {} so the classic builder can build it",
                written_at(config, image),
                need.line
            )),
        );
    }
    let (engines, refusing) = classic_engines(config, image);
    let why = need.map(ToString::to_string);
    let refused = |engine| choose(image.builder, why.as_deref(), engine, true).is_err();
    if engines.is_empty() || !engines.iter().all(|engine| refused(*engine)) {
        return None;
    }
    let fix = "set `builder = \"auto\"` (or \"buildkit\") on an engine that builds it";
    Some(match need {
        Some(need) => Diagnostic::at(
            file,
            file.line_span(need.line),
            format!(
                "image `{}` needs BuildKit for {}, but {refusing}",
                image.id, need.what
            ),
        )
        .label("BuildKit only")
        .hint(format!(
            "{fix}, or change line {} so the classic builder can build it",
            need.line
        )),
        None => Diagnostic::at(
            &config.source,
            image.builder_span.clone().unwrap_or(image.span.clone()),
            format!(
                "image `{}` is set to `builder = \"buildkit\"`, but {refusing}",
                image.id
            ),
        )
        .label("needs BuildKit")
        .hint(format!("{fix}, or set the image's `builder` to \"auto\"")),
    })
}

/// The `builder` of each engine that may build `image` (the one engine, or
/// the pool's engines carrying its `engine_labels`), and how to say they
/// are all classic.
fn classic_engines(config: &Config, image: &Image) -> (Vec<BuilderChoice>, &'static str) {
    let engine = &config.engine;
    if engine.pool.is_empty() {
        return (
            vec![engine.builder],
            "[engine] sets `builder = \"classic\"`",
        );
    }
    let carries = |labels: &[String]| image.engine_labels.iter().all(|l| labels.contains(l));
    let builders = engine
        .pool
        .iter()
        .filter(|member| carries(&member.labels))
        .map(|member| member.builder)
        .collect();
    (
        builders,
        "every engine of [[engines]] that may build it is set to `builder = \"classic\"`",
    )
}

/// Where the image's `builder` is written, as `golden.toml:LINE`.
fn written_at(config: &Config, image: &Image) -> String {
    let at = image.builder_span.as_ref().map_or(0, |span| span.start);
    let (line, _) = config.source.line_column(at);
    format!("{}:{line}", config.source.path.display())
}

/// A problem for each secret a step mounts that the image does not
/// provide (once per id), and a warning for an optional one
/// (`required=false`) and for each secret provided and never mounted.
fn secret_problems(
    image: &Image,
    node: &Node,
    file: &SourceFile,
) -> (Vec<Diagnostic>, Vec<String>) {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut seen = BTreeSet::new();
    let provided: Vec<&str> = image.secrets.keys().map(String::as_str).collect();
    for mount in &node.secret_mounts {
        let known = image.secrets.contains_key(&mount.id);
        if known || !mount.is_literal() || !seen.insert(mount.id.as_str()) {
            continue;
        }
        if mount.required == Some(false) {
            warnings.push(format!(
                "secret `{}` (line {} of `{}`) is optional (`required=false`) and [images.{}.secrets] does not provide it: the step runs without it",
                mount.id, mount.line, image.dockerfile, image.id
            ));
            continue;
        }
        problems.push(
            Diagnostic::at(
                file,
                file.line_span(mount.line),
                format!(
                    "the Dockerfile of image `{}` mounts secret `{}`, which golden.toml does not provide",
                    image.id, mount.id
                ),
            )
            .label("secret mount")
            .hint(missing_hint(&image.id, &mount.id, &provided)),
        );
    }
    // An id BuildKit expands (`$`) may be any of them.
    if node.secret_mounts.iter().all(|mount| mount.is_literal()) {
        for id in &provided {
            if !node.secret_mounts.iter().any(|mount| mount.id == *id) {
                warnings.push(format!(
                    "secret `{id}` of [images.{}.secrets] is mounted by no `RUN --mount=type=secret,id={id}` of `{}`",
                    image.id, image.dockerfile
                ));
            }
        }
    }
    (problems, warnings)
}

/// How to provide secret `id` to image `image`: the toml to add (the id
/// quoted when TOML needs it, an environment variable named after it), or
/// the configured id it may be a typo of.
fn missing_hint(image: &str, id: &str, provided: &[&str]) -> String {
    let key = match id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    {
        true => id.to_string(),
        false => format!("{id:?}"),
    };
    let mut variable: String = id
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_uppercase(),
            false => '_',
        })
        .collect();
    if variable.starts_with(|c: char| c.is_ascii_digit()) {
        variable.insert(0, '_');
    }
    let add = format!(
        "add it to golden.toml, read from an environment variable (or from a file, with `{{ file = \"PATH\" }}`):\n[images.{image}.secrets]\n{key} = {{ env = \"{variable}\" }}"
    );
    match closest(id, provided) {
        Some(near) => {
            format!("did you mean `{near}`, which [images.{image}.secrets] provides? Else {add}")
        }
        None => add,
    }
}

#[cfg(test)]
mod tests {
    use super::missing_hint;

    #[test]
    fn the_toml_to_add_quotes_the_id_when_toml_needs_it() {
        let hint = missing_hint("sdk", "npm.rc", &[]);
        assert!(
            hint.ends_with("[images.sdk.secrets]\n\"npm.rc\" = { env = \"NPM_RC\" }"),
            "{hint}"
        );
        let hint = missing_hint("sdk", "1password-token", &["other"]);
        assert!(
            hint.ends_with("\n1password-token = { env = \"_1PASSWORD_TOKEN\" }"),
            "{hint}"
        );
        assert!(!hint.contains("did you mean"), "{hint}");
    }
}
