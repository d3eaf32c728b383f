//! Build args against the Dockerfiles that receive them. A build arg no
//! Dockerfile declares (`ARG NAME`, before or after a FROM) is a typo the
//! engine ignores with a warning nobody reads, so the image is built
//! without it: a config error at load time, located in golden.toml, with
//! the closest declared ARG as a suggestion. Docker's predefined args
//! (proxies, platforms) need no ARG. A `[defaults]` build arg only has to
//! be declared by one image. An `ARG` without a default that no build arg
//! sets is a warning, shown by `plan`.
//!
//! Pure: the Dockerfile texts come from the graph.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, Image};
use crate::diagnostic::{closest, Diagnostic};
use crate::dockerfile::{DeclaredArg, Dockerfile, PREDEFINED_ARGS};
use crate::graph::Graph;

/// The problems (errors) and, by image id, the warnings.
pub fn check(config: &Config, graph: &Graph) -> (Vec<Diagnostic>, BTreeMap<String, Vec<String>>) {
    let mut problems = Vec::new();
    let mut warnings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut declared_anywhere: BTreeSet<String> = BTreeSet::new();
    for image in &config.images {
        let Some(node) = graph.nodes.get(&image.id) else {
            continue;
        };
        let declared = Dockerfile::declared_args(&node.dockerfile_text);
        let names: BTreeSet<&str> = declared.iter().map(|arg| arg.name.as_str()).collect();
        declared_anywhere.extend(names.iter().map(|name| name.to_string()));
        // An image whose table has a problem gets no more (it may be the cause).
        if !config.reported.has_image(&image.id) {
            problems.extend(undeclared(config, image, &names));
        }
        let unset = unset(image, &declared);
        if !unset.is_empty() {
            warnings.entry(image.id.clone()).or_default().extend(unset);
        }
    }
    // Only every image's Dockerfile can tell a [defaults] key is unused.
    if config.reported.is_empty() {
        problems.extend(undeclared_defaults(config, &declared_anywhere));
    }
    (problems, warnings)
}

/// A problem for each of the image's own build args that its Dockerfile
/// does not declare (`names`), with the closest declared ARG.
fn undeclared(config: &Config, image: &Image, names: &BTreeSet<&str>) -> Vec<Diagnostic> {
    let candidates: Vec<&str> = names.iter().copied().collect();
    let mut problems = Vec::new();
    for (key, span) in &image.build_arg_spans {
        // A value that did not parse was reported already.
        let parsed = image.build_args.contains_key(key);
        if !parsed || names.contains(key.as_str()) || PREDEFINED_ARGS.contains(&key.as_str()) {
            continue;
        }
        let hint = match closest(key, &candidates) {
            Some(near) => format!(
                "did you mean `{near}`? the Dockerfile declares: {}",
                candidates.join(", ")
            ),
            None if candidates.is_empty() => format!(
                "`{}` declares no ARG: add `ARG {key}` to it or remove the build arg",
                image.dockerfile
            ),
            None => format!(
                "the Dockerfile declares: {}; add `ARG {key}` or remove the build arg",
                candidates.join(", ")
            ),
        };
        problems.push(
            Diagnostic::at(
                &config.source,
                span.clone(),
                format!(
                    "build arg `{key}` of image `{}` is not declared by its Dockerfile `{}`",
                    image.id, image.dockerfile
                ),
            )
            .label("no ARG declares this")
            .hint(hint),
        );
    }
    problems
}

/// A warning for each `ARG` without a default that no build arg of the
/// image sets (once per name).
fn unset(image: &Image, declared: &[DeclaredArg]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut warnings = Vec::new();
    for arg in declared {
        let set = image.build_args.contains_key(&arg.name);
        if !arg.default && !set && seen.insert(arg.name.clone()) {
            warnings.push(format!(
                "`ARG {}` (line {} of `{}`) has no default and no build arg sets it: it is empty",
                arg.name, arg.line, image.dockerfile
            ));
        }
    }
    warnings
}

/// A problem for each `[defaults]` build arg no image's Dockerfile declares.
fn undeclared_defaults(config: &Config, declared_anywhere: &BTreeSet<String>) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for (key, span) in &config.default_build_args {
        let parsed = config
            .images
            .iter()
            .any(|image| image.build_args.contains_key(key));
        if !parsed || declared_anywhere.contains(key) || PREDEFINED_ARGS.contains(&key.as_str()) {
            continue;
        }
        let candidates: Vec<&str> = declared_anywhere.iter().map(String::as_str).collect();
        let hint = match closest(key, &candidates) {
            Some(near) => format!("did you mean `{near}`?"),
            None => {
                "add `ARG NAME` to a Dockerfile that uses it, or remove the build arg".to_string()
            }
        };
        problems.push(
            Diagnostic::at(
                &config.source,
                span.clone(),
                format!("build arg `{key}` in [defaults] is declared by no image's Dockerfile"),
            )
            .label("no ARG declares this")
            .hint(hint),
        );
    }
    problems
}
