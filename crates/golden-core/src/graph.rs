//! The dependency graph of golden images: each image's Dockerfile is read
//! (after build-arg substitution) to find its final upstream base and the
//! golden images it is built FROM; with `depends_on` these give the build
//! order. Cycles and FROM lines naming unconfigured golden lines are
//! reported with spans.
//!
//! Reads Dockerfiles from disk; no network, no engine.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use crate::config::{Config, Image};
use crate::diagnostic::{Diagnostic, SourceFile};
use crate::dockerfile::{Base, BuildKitUse, Dockerfile, DockerfileError, SecretMount};
use crate::files::Files;
use crate::reference::Reference;
use crate::version::TagTarget;

/// What an image's final stage is built on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// An image outside golden's repositories.
    External(Reference),
    /// Another golden image of this config.
    Golden { id: String, reference: Reference },
    /// Nothing: `FROM scratch`.
    Scratch,
}

impl Upstream {
    /// The reference as written after substitution, if there is one.
    pub fn reference(&self) -> Option<&Reference> {
        match self {
            Upstream::External(reference) | Upstream::Golden { reference, .. } => Some(reference),
            Upstream::Scratch => None,
        }
    }
}

/// One image with what its Dockerfile says.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    /// The Dockerfile text, as read.
    pub dockerfile_text: String,
    pub dockerfile: Dockerfile,
    pub upstream: Upstream,
    /// Golden images this one is built after (FROM lines and `depends_on`).
    pub parents: BTreeSet<String>,
    /// The first thing the Dockerfile uses that only BuildKit builds
    /// ([`crate::dockerfile::needs_buildkit`]): why the image needs
    /// BuildKit, the `needs_buildkit` of `config::builders::choose`.
    pub buildkit: Option<BuildKitUse>,
    /// The Dockerfile's `RUN --mount=type=secret`s, in line order.
    pub secret_mounts: Vec<SecretMount>,
}

impl Node {
    /// The Dockerfile with its final upstream FROM replaced by `base`
    /// pinned to `digest`: the FROM as written, or the tag `track` picked
    /// (see `Observation::base`).
    pub fn pinned_dockerfile(&self, base: &Reference, digest: &crate::name::Digest) -> String {
        let stage = self.dockerfile.final_root();
        self.dockerfile
            .pin(&self.dockerfile_text, stage, &base.with_digest(digest))
    }
}

/// All images, with a build order where parents come first.
#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: BTreeMap<String, Node>,
    /// Every id, parents before children, ties broken by id.
    pub order: Vec<String>,
}

impl Graph {
    /// Reads every image's Dockerfile and orders the images.
    pub fn resolve(config: &Config, files: &dyn Files) -> Result<Graph, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let mut nodes = BTreeMap::new();
        let mut complete = true;
        let mut reading = Reading::new(config, files);
        for image in &config.images {
            match node(&mut reading, image) {
                Ok(node) => {
                    nodes.insert(image.id.clone(), node);
                }
                Err(NodeError::Problem(diagnostic)) => {
                    complete = false;
                    // The image's own table has a problem that may be the cause.
                    if !config.reported.has_image(&image.id) {
                        problems.push(*diagnostic);
                    }
                }
                Err(NodeError::Reported) => complete = false,
            }
        }
        if !complete {
            return Err(problems);
        }
        let order = order(config, &nodes)?;
        Ok(Graph { nodes, order })
    }

    /// `ids` and every image built on them, directly or not, in build order.
    pub fn with_dependents(&self, ids: &BTreeSet<String>) -> Vec<String> {
        let mut selected = ids.clone();
        for id in &self.order {
            if self.nodes[id]
                .parents
                .iter()
                .any(|parent| selected.contains(parent))
            {
                selected.insert(id.clone());
            }
        }
        self.order
            .iter()
            .filter(|id| selected.contains(*id))
            .cloned()
            .collect()
    }

    /// The images this one is built on, directly or not.
    pub fn ancestors(&self, id: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut pending: Vec<&str> = vec![id];
        while let Some(current) = pending.pop() {
            for parent in self
                .nodes
                .get(current)
                .map(|n| &n.parents)
                .into_iter()
                .flatten()
            {
                if found.insert(parent.clone()) {
                    pending.push(parent);
                }
            }
        }
        found
    }
}

/// Why an image has no node.
enum NodeError {
    Problem(Box<Diagnostic>),
    /// It is built FROM an image whose table has a problem, already reported.
    Reported,
}

impl From<Box<Diagnostic>> for NodeError {
    fn from(diagnostic: Box<Diagnostic>) -> Self {
        NodeError::Problem(diagnostic)
    }
}

/// What reading every image's Dockerfile shares: the config, its lines by
/// repository name, and each Dockerfile's text by path (lines often share a
/// context, and with it one Dockerfile).
struct Reading<'c> {
    config: &'c Config,
    files: &'c dyn Files,
    lines: HashMap<&'c str, Vec<&'c Image>>,
    texts: HashMap<PathBuf, String>,
    /// Each Dockerfile parsed once per set of build args: lines that share
    /// a context (10,000 of them, at scale) share one parse.
    parsed: HashMap<(PathBuf, &'c BTreeMap<String, String>), Dockerfile>,
    /// What each Dockerfile needs BuildKit for and the secrets it mounts.
    scanned: HashMap<PathBuf, (Option<BuildKitUse>, Vec<SecretMount>)>,
}

impl<'c> Reading<'c> {
    fn new(config: &'c Config, files: &'c dyn Files) -> Self {
        let mut lines: HashMap<&str, Vec<&Image>> = HashMap::new();
        for image in &config.images {
            lines.entry(image.name.as_str()).or_default().push(image);
        }
        Reading {
            config,
            files,
            lines,
            texts: HashMap::new(),
            parsed: HashMap::new(),
            scanned: HashMap::new(),
        }
    }

    /// What the Dockerfile at `path`, whose text is `text`, needs BuildKit
    /// for and the secrets it mounts, read once.
    fn scan(&mut self, path: PathBuf, text: &str) -> (Option<BuildKitUse>, Vec<SecretMount>) {
        self.scanned
            .entry(path)
            .or_insert_with(|| {
                let mounts = crate::dockerfile::secret_mounts(text);
                (crate::dockerfile::needs_buildkit(text), mounts)
            })
            .clone()
    }

    /// The text of the Dockerfile at `path`, read once.
    fn text(&mut self, path: PathBuf) -> std::io::Result<String> {
        if let Some(text) = self.texts.get(&path) {
            return Ok(text.clone());
        }
        let text = self
            .files
            .read_text(&path, crate::files::MAX_TEXT)
            .map_err(|problem| std::io::Error::other(format!("it {problem}")))?;
        self.texts.insert(path, text.clone());
        Ok(text)
    }
}

/// The node of `image`: its Dockerfile, its parents and its upstream.
fn node<'c>(reading: &mut Reading<'c>, image: &'c Image) -> Result<Node, NodeError> {
    let (text, file, dockerfile) = read_dockerfile(reading, image)?;
    let parents = parents(reading, image, &file, &dockerfile)?;
    let upstream = final_upstream(reading, &dockerfile);
    if let Some(track) = &image.track {
        let line = dockerfile.final_root().first_line;
        if let Err((message, hint)) = trackable(track, &upstream) {
            return Err(NodeError::Problem(Box::new(
                Diagnostic::at(&file, file.line_span(line), message)
                    .label("the final FROM")
                    .hint(hint),
            )));
        }
    }
    let (buildkit, secret_mounts) = reading.scan(image.dockerfile_path(), &text);
    Ok(Node {
        id: image.id.clone(),
        dockerfile_text: text,
        dockerfile,
        upstream,
        parents,
        buildkit,
        secret_mounts,
    })
}

/// The text of the image's Dockerfile, as a source file for diagnostics,
/// and the Dockerfile parsed with the image's build args (once per text
/// and args).
fn read_dockerfile<'c>(
    reading: &mut Reading<'c>,
    image: &'c Image,
) -> Result<(String, SourceFile, Dockerfile), NodeError> {
    let config = reading.config;
    let path = image.dockerfile_path();
    let text = reading.text(path.clone()).map_err(|error| {
        Box::new(
            Diagnostic::at(
                &config.source,
                image.span.clone(),
                format!("failed to read Dockerfile `{}`: {error}", path.display()),
            )
            .label("for this image")
            .hint("check `context` and `dockerfile` of this image"),
        )
    })?;
    let file = SourceFile::new(&path, &text);
    let key = (path.clone(), &image.build_args);
    let dockerfile = match reading.parsed.get(&key) {
        Some(parsed) => parsed.clone(),
        None => {
            let parsed = Dockerfile::parse(&text, &image.build_args)
                .map_err(|error| dockerfile_problem(&file, &error))?;
            reading.parsed.insert(key, parsed.clone());
            parsed
        }
    };
    Ok((text, file, dockerfile))
}

/// The ids of the image's parents: its `depends_on` and the golden images
/// its FROM lines name (a problem for one unconfigured or itself).
fn parents(
    reading: &Reading<'_>,
    image: &Image,
    file: &SourceFile,
    dockerfile: &Dockerfile,
) -> Result<BTreeSet<String>, NodeError> {
    let mut parents: BTreeSet<String> = image
        .depends_on
        .iter()
        .map(|p| p.get_ref().clone())
        .collect();
    for (reference, line) in dockerfile.images() {
        let parent = match golden_parent(reading, reference) {
            Ok(parent) => parent,
            Err(ParentError::Reported) => return Err(NodeError::Reported),
            Err(ParentError::Unconfigured(message)) => {
                return Err(NodeError::Problem(Box::new(
                    Diagnostic::at(file, file.line_span(line), message)
                        .label("golden image reference")
                        .hint(format!("configured lines: {}", lines(reading.config))),
                )))
            }
        };
        if let Some(parent) = parent {
            if parent == image.id {
                return Err(NodeError::Problem(Box::new(
                    Diagnostic::at(file, file.line_span(line), format!("image `{}` is built FROM itself", image.id))
                        .label("self reference")
                        .hint("an image cannot be built FROM its own repository line; FROM its upstream instead"),
                )));
            }
            parents.insert(parent);
        }
    }
    Ok(parents)
}

/// What the final stage is built FROM.
fn final_upstream(reading: &Reading<'_>, dockerfile: &Dockerfile) -> Upstream {
    match &dockerfile.final_root().base {
        Base::Image(reference) => match golden_parent(reading, reference).ok().flatten() {
            Some(id) => Upstream::Golden {
                id,
                reference: reference.clone(),
            },
            None => Upstream::External(reference.clone()),
        },
        Base::Scratch | Base::Stage(_) => Upstream::Scratch,
    }
}

/// Whether `track` can follow the final FROM `upstream`: an upstream
/// image named by a tag the pattern matches (the floor: golden never
/// resolves below it). Else what is wrong and how to fix it.
fn trackable(track: &crate::upstream::Track, upstream: &Upstream) -> Result<(), (String, String)> {
    let pattern = &track.pattern;
    // The oldest tag the pattern matches: each `*` as 0.
    let oldest = pattern.replace('*', "0");
    let problem = match upstream {
        Upstream::Scratch => {
            return Err((
                format!("`track = \"{pattern}\"` follows an upstream image's tags, but the final stage is built FROM scratch"),
                format!("remove `track`, or build FROM the upstream you track, written as the oldest tag you accept (like `FROM REPOSITORY:{oldest}`)"),
            ))
        }
        Upstream::Golden { reference, .. } => {
            return Err((
                format!("`track = \"{pattern}\"` follows an upstream image's tags, but `FROM {reference}` is a golden image"),
                "remove `track`: an image built FROM a golden parent follows it by itself (it is rebuilt when the parent is)".to_string(),
            ))
        }
        Upstream::External(reference) => match (reference.digest(), reference.tag()) {
            (Some(_), _) => format!("`FROM {reference}` is pinned by digest, so `track = \"{pattern}\"` has nothing to follow"),
            (None, Some(tag)) if track.components(tag).is_some() => return Ok(()),
            (None, Some(tag)) => format!("the tag `{tag}` of `FROM {reference}` does not match `track = \"{pattern}\"`, so golden cannot tell the oldest tag you accept"),
            (None, None) => format!("`FROM {reference}` names no tag, so `track = \"{pattern}\"` has no oldest tag to start from"),
        },
    };
    let Upstream::External(reference) = upstream else {
        return Ok(());
    };
    Err((
        problem,
        format!(
            "write the FROM as the oldest tag you accept: `FROM {}`",
            reference.with_tag(&oldest)
        ),
    ))
}

fn dockerfile_problem(file: &SourceFile, error: &DockerfileError) -> Box<Diagnostic> {
    let line = error.line();
    let diagnostic = match line {
        Some(line) => {
            let label = match error {
                DockerfileError::RequiredArgument { .. } => "required build arg",
                _ => "this FROM",
            };
            Diagnostic::at(file, file.line_span(line), error.to_string()).label(label)
        }
        None => Diagnostic::in_file(&file.path, error.to_string()),
    };
    let hint = match error {
        DockerfileError::RequiredArgument { variable, .. } => format!(
            "the engine stops the build here too: set `build_args = {{ {variable} = \"...\" }}` for this image (or in [defaults]) in golden.toml, or give `ARG {variable}` a default"
        ),
        _ => "fix the Dockerfile; golden reads its FROM lines to find the base and the build order"
            .into(),
    };
    Box::new(diagnostic.hint(hint))
}

/// Why a golden reference names no configured line.
enum ParentError {
    /// What to report.
    Unconfigured(String),
    /// It may name an image whose table has a problem, already reported.
    Reported,
}

/// The id of the configured golden line `reference` names, `None` when it is
/// not a golden repository, an error when it is one but names no configured line.
fn golden_parent(
    reading: &Reading<'_>,
    reference: &Reference,
) -> Result<Option<String>, ParentError> {
    let config = reading.config;
    let Some(name) = config.golden_name(reference) else {
        return Ok(None);
    };
    let candidates = reading
        .lines
        .get(name.as_str())
        .map_or(&[][..], Vec::as_slice);
    golden_line(reference, &name, candidates).map_err(|message| {
        if config.reported.has_name(&name) {
            ParentError::Reported
        } else {
            ParentError::Unconfigured(message)
        }
    })
}

/// [`golden_parent`] for a reference to golden repository `name`, whose
/// configured lines are `candidates`.
fn golden_line(
    reference: &Reference,
    name: &str,
    candidates: &[&Image],
) -> Result<Option<String>, String> {
    if candidates.is_empty() {
        return Err(format!(
            "FROM `{reference}` is in golden's namespace but `{name}` is not a configured image"
        ));
    }
    if reference.digest().is_some() {
        // Pinned by digest: it never changes, so nothing to follow.
        return Ok(None);
    }
    let target = TagTarget::parse(reference.tag());
    // Under upstream versioning `X.Y.Z` is a floating tag (the newest
    // build of that upstream version): a child FROM it follows the line.
    if let TagTarget::Exact(exact) = target {
        let floating = candidates.iter().find(|image| {
            image.version == exact.line
                && image.versioning == crate::version::Versioning::Upstream
                && exact.revision.is_none()
        });
        if let Some(image) = floating {
            return Ok(Some(image.id.clone()));
        }
    }
    // Each line's versioning decides which spellings it writes: a line
    // counting builds never writes `1.0.3-r1` or `1.0.3-preview.1`.
    let highest = candidates
        .iter()
        .filter(|image| produces(image, target))
        .max_by_key(|image| image.version)
        .map(|image| image.id.clone());
    let configured = |line| candidates.iter().any(|image| image.version == line);
    match (target, highest) {
        // An exact version never changes either, but it must name a configured line.
        (TagTarget::Exact(_), Some(_)) => Ok(None),
        (TagTarget::Exact(exact), None) if !configured(exact.line) => Err(format!(
            "FROM `{reference}` names line {} of `{name}`, which is not configured",
            exact.line
        )),
        (_, Some(id)) => Ok(Some(id)),
        (_, None) => Err(format!(
            "FROM `{reference}` names a tag that no configured line of `{name}` produces (expected X.Y, X, X.Y.N or latest)"
        )),
    }
}

/// Whether `image`'s line ever carries a tag `target`: its floating tags,
/// and the exact tags its versioning writes (`X.Y.N` under `line`;
/// `X.Y.Z[-PRE]-rN` builds and `X.Y.Z[-PRE]` floating tags under
/// `upstream`).
pub(crate) fn produces(image: &Image, target: TagTarget) -> bool {
    let spelt = match target {
        TagTarget::Exact(exact) => {
            image.versioning.names(&exact)
                || image.versioning == crate::version::Versioning::Upstream
        }
        TagTarget::Upstream(_) => image.versioning == crate::version::Versioning::Upstream,
        _ => true,
    };
    spelt && target.follows(image.version)
}

fn lines(config: &Config) -> String {
    let all: Vec<String> = config
        .images
        .iter()
        .map(|image| format!("{}:{}", image.name, image.version))
        .collect();
    all.join(", ")
}

/// Kahn's algorithm with ids in sorted order, so the order is stable.
fn order(config: &Config, nodes: &BTreeMap<String, Node>) -> Result<Vec<String>, Vec<Diagnostic>> {
    let parents: BTreeMap<&str, BTreeSet<&str>> = nodes
        .iter()
        .map(|(id, node)| {
            (
                id.as_str(),
                // A parent that is no image was reported by `depends_on`.
                node.parents
                    .iter()
                    .filter(|parent| nodes.contains_key(*parent))
                    .map(String::as_str)
                    .collect(),
            )
        })
        .collect();
    let (order, remaining) = rounds(&parents);
    if remaining.is_empty() {
        return Ok(order.into_iter().map(str::to_string).collect());
    }
    let cycle = find_cycle(&remaining);
    let first = cycle.first().copied().unwrap_or_default();
    let span = config
        .image(first)
        .map(|image| image.span.clone())
        .unwrap_or(0..0);
    Err(vec![Diagnostic::at(
        &config.source,
        span,
        format!("dependency cycle: {}", cycle.join(" -> ")),
    )
    .label("part of the cycle")
    .hint("an image cannot be built FROM (or depend on) an image that depends on it; remove one `depends_on` entry or FROM line")])
}

/// Orders the ids of `parents` (each with the ids it waits on, all keys of
/// `parents`) in rounds: each round takes, in id order, every id whose
/// parents came in earlier rounds. Returns the order and what is left (the
/// ids on or behind a cycle, each with its parents among them). Linear in
/// the edges but for sorting each round, where taking a round and then
/// removing it from every entry would be quadratic in the ids.
fn rounds<'a>(
    parents: &BTreeMap<&'a str, BTreeSet<&'a str>>,
) -> (Vec<&'a str>, BTreeMap<&'a str, BTreeSet<&'a str>>) {
    let mut waiting: HashMap<&str, usize> = HashMap::with_capacity(parents.len());
    let mut children: HashMap<&str, Vec<&'a str>> = HashMap::new();
    let mut ready: Vec<&'a str> = Vec::new();
    for (&id, of) in parents {
        waiting.insert(id, of.len());
        if of.is_empty() {
            ready.push(id);
        }
        for &parent in of {
            children.entry(parent).or_default().push(id);
        }
    }
    let mut order = Vec::with_capacity(parents.len());
    while !ready.is_empty() {
        let mut next = Vec::new();
        for &id in &ready {
            for &child in children.get(id).into_iter().flatten() {
                if let Some(count) = waiting.get_mut(child) {
                    *count -= 1;
                    if *count == 0 {
                        next.push(child);
                    }
                }
            }
        }
        order.append(&mut ready);
        next.sort_unstable();
        ready = next;
    }
    let placed: HashSet<&str> = order.iter().copied().collect();
    let remaining = parents
        .iter()
        .filter(|(id, _)| !placed.contains(*id))
        .map(|(&id, of)| {
            let left = of.iter().copied().filter(|p| !placed.contains(p)).collect();
            (id, left)
        })
        .collect();
    (order, remaining)
}

/// One cycle among `remaining`, each listed with the parents it waits on.
fn find_cycle<'a>(remaining: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<&'a str> {
    let Some(start) = remaining.keys().next().copied() else {
        return Vec::new();
    };
    let mut path = vec![start];
    let mut current = start;
    loop {
        let Some(next) = remaining
            .get(current)
            .and_then(|parents| parents.iter().next().copied())
        else {
            return path;
        };
        if let Some(position) = path.iter().position(|id| *id == next) {
            let mut cycle: Vec<&str> = path[position..].to_vec();
            cycle.reverse();
            cycle.push(cycle[0]);
            // Parents first: `a -> b` reads "b is built FROM a".
            return cycle;
        }
        path.push(next);
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_from_an_upstream_lines_x_y_z_tag_follows_the_line() {
        let parsed = crate::config::Config::parse(
            crate::diagnostic::SourceFile::new(
                std::path::Path::new("golden.toml"),
                "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.aspnet]\nversion = \"10.0\"\ncontext = \".\"\nversioning = \"upstream\"\n\
upstream_version = { env = \"ASPNET_VERSION\" }\n\
[images.base]\nversion = \"1.0\"\ncontext = \".\"\n",
            ),
            &crate::testing::TestDisk,
        );
        let (config, problems) = parsed;
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        let line = |id: &str, tag: &str| {
            let image = config.images.iter().find(|image| image.id == id).unwrap();
            let reference: Reference = format!("registry.local:5000/golden/{id}:{tag}")
                .parse()
                .unwrap();
            golden_line(&reference, id, &[image])
        };
        // `10.0.3` is the newest build of upstream 10.0.3: it moves.
        assert_eq!(line("aspnet", "10.0.3"), Ok(Some("aspnet".to_string())));
        // An exact build never changes.
        assert_eq!(line("aspnet", "10.0.3-r2"), Ok(None));
        // Under line versioning `1.0.3` is an exact build, as before.
        assert_eq!(line("base", "1.0.3"), Ok(None));
        assert_eq!(line("base", "1.0"), Ok(Some("base".to_string())));
    }

    /// Review finding 7: under line versioning the upstream spellings are
    /// no tags the line writes; `1.0.3-r1` was taken for a pinned build and
    /// `1.0.3-preview.1` made the image a child of `base`.
    #[test]
    fn a_line_versioned_line_refuses_upstream_spellings_as_before() {
        let parsed = crate::config::Config::parse(
            crate::diagnostic::SourceFile::new(
                std::path::Path::new("golden.toml"),
                "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.base]\nversion = \"1.0\"\ncontext = \".\"\n",
            ),
            &crate::testing::TestDisk,
        );
        let (config, problems) = parsed;
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        let image = config.image("base").unwrap();
        let line = |tag: &str| {
            let reference: Reference = format!("registry.local:5000/golden/base:{tag}")
                .parse()
                .unwrap();
            golden_line(&reference, "base", &[image])
        };
        for tag in ["1.0.3-r1", "1.0.3-preview.1", "1.0.3-preview.1-r1"] {
            let error = line(tag).expect_err(tag);
            assert!(
                error.contains("names a tag that no configured line of `base` produces"),
                "{tag}: {error}"
            );
        }
        assert_eq!(
            line("2.0.3"),
            Err("FROM `registry.local:5000/golden/base:2.0.3` names line 2.0 of `base`, which is not configured".to_string())
        );
        assert_eq!(line("1.0.3"), Ok(None));
    }

    /// The ordering `rounds` replaced: take every id with no parent left,
    /// in id order, then remove those ids from every other entry.
    fn rounds_by_removal<'a>(
        parents: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    ) -> (Vec<&'a str>, BTreeMap<&'a str, BTreeSet<&'a str>>) {
        let mut remaining = parents.clone();
        let mut order = Vec::new();
        loop {
            let ready: Vec<&str> = remaining
                .iter()
                .filter(|(_, parents)| parents.is_empty())
                .map(|(id, _)| *id)
                .collect();
            if ready.is_empty() {
                break;
            }
            for id in ready {
                remaining.remove(id);
                for parents in remaining.values_mut() {
                    parents.remove(id);
                }
                order.push(id);
            }
        }
        (order, remaining)
    }

    #[test]
    fn rounds_match_ordering_by_removal_on_random_graphs_with_and_without_cycles() {
        let ids: Vec<String> = (0..40).map(|i| format!("{:02}", (i * 17) % 40)).collect();
        let mut cycles = 0;
        for seed in 0..300 {
            let mut random = fastrand::Rng::with_seed(seed);
            let count = random.usize(1..ids.len());
            let edges = random.usize(0..3 * count);
            // Parents mostly among earlier ids (a DAG); with a back edge
            // now and then, a cycle.
            let mut parents: BTreeMap<&str, BTreeSet<&str>> = ids[..count]
                .iter()
                .map(|id| (id.as_str(), BTreeSet::new()))
                .collect();
            for _ in 0..edges {
                let child = random.usize(0..count);
                let parent = random.usize(0..count);
                let back = random.usize(0..15) == 0;
                if parent < child || (back && parent != child) {
                    parents
                        .get_mut(ids[child].as_str())
                        .unwrap()
                        .insert(ids[parent].as_str());
                }
            }
            let expected = rounds_by_removal(&parents);
            cycles += usize::from(!expected.1.is_empty());
            assert_eq!(rounds(&parents), expected, "seed {seed}: {parents:?}");
        }
        assert!(cycles > 10, "too few graphs with a cycle: {cycles}");
    }
}

#[cfg(test)]
mod track_tests {
    use std::path::Path;

    use crate::diagnostic::SourceFile;
    use crate::project::Project;

    /// An image `x` FROM what `base` says (the `required` fixture's
    /// `FROM ${BASE}`) with `track`; and a golden line `base` to be FROM.
    fn load(base: &str, track: &str) -> Result<Project, String> {
        let text = format!(
            "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
             [images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n\
             [images.x]\nversion = \"10.0\"\ncontext = \"images/required\"\n\
             build_args = {{ BASE = \"{base}\" }}\ntrack = \"{track}\"\n"
        );
        Project::from_source(
            SourceFile::new(Path::new("tests/fixtures/config/golden.toml"), &text),
            &crate::testing::TestDisk,
        )
        .map_err(|error| error.to_string())
    }

    #[test]
    fn track_on_a_from_it_cannot_follow_says_which_from_and_how_to_fix_it() {
        let cases = [
            (
                "scratch",
                "follows an upstream image's tags, but the final stage is built FROM scratch",
                "build FROM the upstream you track, written as the oldest tag you accept (like `FROM REPOSITORY:10.0.0-noble`)",
            ),
            (
                "registry.local:5000/golden/base:1.0",
                "but `FROM registry.local:5000/golden/base:1.0` is a golden image",
                "remove `track`",
            ),
            (
                "mcr.microsoft.com/dotnet/aspnet@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "is pinned by digest, so `track = \"10.0.*-noble\"` has nothing to follow",
                "write the FROM as the oldest tag you accept: `FROM mcr.microsoft.com/dotnet/aspnet:10.0.0-noble`",
            ),
            (
                "mcr.microsoft.com/dotnet/aspnet:10.0-noble",
                "the tag `10.0-noble` of `FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble` does not match `track = \"10.0.*-noble\"`",
                "write the FROM as the oldest tag you accept: `FROM mcr.microsoft.com/dotnet/aspnet:10.0.0-noble`",
            ),
            (
                "mcr.microsoft.com/dotnet/aspnet",
                "names no tag",
                "`FROM mcr.microsoft.com/dotnet/aspnet:10.0.0-noble`",
            ),
        ];
        for (base, problem, fix) in cases {
            let error = load(base, "10.0.*-noble").expect_err(base);
            assert!(error.contains(problem), "{base}: {error}");
            assert!(error.contains(fix), "{base}: {error}");
            assert!(
                error.contains("tests/fixtures/config/images/required/Dockerfile:2"),
                "{base}: the FROM's file and line: {error}"
            );
        }
        let project = load(
            "mcr.microsoft.com/dotnet/aspnet:10.0.1-noble",
            "10.0.*-noble",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert!(project.config.image("x").unwrap().track.is_some());
    }
}
