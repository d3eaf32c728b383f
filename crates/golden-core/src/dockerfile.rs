//! Reads the FROM lines of a Dockerfile the way the engine resolves them:
//! parser directives (`# escape=`), line continuations, comments, lowercase
//! keywords, `ARG`s declared before the first `FROM` (build args override
//! their defaults), `--platform`, and stages named with `AS` and used by later
//! stages. It also rewrites one FROM line to pin its base to a digest.
//!
//! Pure: it takes text and returns data; it never reads files itself.

use std::collections::BTreeMap;

use crate::reference::{Reference, ReferenceError};

/// What went wrong, with the 1-based line it went wrong on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerfileError {
    #[error("the Dockerfile has no FROM instruction")]
    NoFrom,
    #[error("line {line}: FROM needs an image, e.g. `FROM registry.local:5000/golden/base:1.0`")]
    MissingImage { line: usize },
    #[error("line {line}: `{text}` is not valid in FROM (expected `FROM [--platform=P] IMAGE [AS NAME]`)")]
    InvalidFrom { line: usize, text: String },
    #[error("line {line}: FROM `{text}` is not a valid image reference: {source}")]
    InvalidReference {
        line: usize,
        text: String,
        source: ReferenceError,
    },
    #[error("line {line}: FROM `{original}` expands to an empty image name: set build arg `{variable}` or give the ARG a default")]
    EmptyAfterSubstitution {
        line: usize,
        original: String,
        variable: String,
    },
    #[error("line {line}: unterminated `${{...}}` or quote")]
    Unterminated { line: usize },
    /// `${NAME:?message}` (or `${NAME?message}`) with NAME empty or unset,
    /// which stops the engine's build with the message.
    #[error("line {line}: build arg `{variable}` is required: {message}")]
    RequiredArgument {
        line: usize,
        variable: String,
        message: String,
    },
}

impl DockerfileError {
    /// The 1-based line the error is about, when it is about one.
    pub fn line(&self) -> Option<usize> {
        match self {
            DockerfileError::NoFrom => None,
            DockerfileError::MissingImage { line }
            | DockerfileError::InvalidFrom { line, .. }
            | DockerfileError::InvalidReference { line, .. }
            | DockerfileError::EmptyAfterSubstitution { line, .. }
            | DockerfileError::Unterminated { line }
            | DockerfileError::RequiredArgument { line, .. } => Some(*line),
        }
    }
}

/// What a stage is built on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// An image from a registry.
    Image(Reference),
    /// An earlier stage of the same Dockerfile, by index.
    Stage(usize),
    /// The empty image.
    Scratch,
}

/// One `FROM` and what it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The name given with `AS`, lowercased as the engine does.
    pub name: Option<String>,
    pub base: Base,
    /// `--platform` after substitution.
    pub platform: Option<String>,
    /// First and last physical line (1-based) of the FROM instruction.
    pub first_line: usize,
    pub last_line: usize,
}

/// One name an `ARG` instruction declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredArg {
    pub name: String,
    /// `ARG NAME=value`: a build arg need not set it.
    pub default: bool,
    pub line: usize,
}

/// Build args the engine knows without an `ARG` (proxies, and the platform
/// args BuildKit predefines).
pub const PREDEFINED_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// What a `COPY --from=` names when it is not a stage of the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    /// An image the engine pulls to copy from.
    Image(Reference),
    /// A value that is neither a stage nor a valid image reference after
    /// the ARGs before the first FROM are substituted (a stage's own ARG,
    /// say): golden cannot tell what it copies from.
    Unresolved(String),
    /// Flags golden cannot read as the engine does (a quote left open):
    /// a `--from` may hide among them.
    UnreadableFlags(String),
}

/// One `COPY --from=` naming an image, not a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFrom {
    pub source: CopySource,
    /// First physical line (1-based) of the COPY instruction.
    pub line: usize,
}

/// The stages of a Dockerfile, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub stages: Vec<Stage>,
    /// The `COPY --from=` of any stage that name an image: the engine pulls
    /// it and copies its files into the stage.
    pub copies: Vec<CopyFrom>,
}

impl Dockerfile {
    /// Parses `text`, substituting `build_args` for the ARGs declared before
    /// the first FROM.
    pub fn parse(
        text: &str,
        build_args: &BTreeMap<String, String>,
    ) -> Result<Self, DockerfileError> {
        let text = without_bom(text);
        let escape = escape_directive(text);
        let mut arguments: BTreeMap<String, String> = BTreeMap::new();
        let mut stages: Vec<Stage> = Vec::new();
        let mut copies = Vec::new();
        for instruction in instructions(text, escape) {
            let (keyword, rest) = split_keyword(&instruction.text);
            match keyword.to_ascii_uppercase().as_str() {
                "ARG" if stages.is_empty() => {
                    let words = expand_words(rest, &arguments, escape)
                        .map_err(|error| error.at(instruction.first_line))?;
                    for word in words {
                        let (name, default) = match word.split_once('=') {
                            Some((name, value)) => (name.to_string(), Some(value.to_string())),
                            None => (word.clone(), None),
                        };
                        // Neither a build arg nor a default: unset, as the
                        // engine has it (`${NAME-word}` gives `word`).
                        match build_args.get(&name).cloned().or(default) {
                            Some(value) => arguments.insert(name, value),
                            None => arguments.remove(&name),
                        };
                    }
                }
                "FROM" => {
                    let stage = parse_from(&instruction, rest, &arguments, escape, &stages)?;
                    stages.push(stage);
                }
                "COPY" => {
                    let from = copy_from(rest, &arguments, escape, &stages);
                    copies.extend(from.into_iter().map(|source| CopyFrom {
                        source,
                        line: instruction.first_line,
                    }));
                }
                // A trigger runs in the build of an image FROM this one,
                // where this file's stages do not exist: any name is an image.
                "ONBUILD" => {
                    let (keyword, rest) = split_keyword(rest);
                    if keyword.eq_ignore_ascii_case("COPY") {
                        let from = copy_from(rest, &arguments, escape, &[]);
                        copies.extend(from.into_iter().map(|source| CopyFrom {
                            source,
                            line: instruction.first_line,
                        }));
                    }
                }
                _ => {}
            }
        }
        if stages.is_empty() {
            return Err(DockerfileError::NoFrom);
        }
        Ok(Dockerfile { stages, copies })
    }

    /// Every `ARG` the Dockerfile declares, in any stage, before or after a
    /// FROM: its name, whether it has a default, and its line.
    pub fn declared_args(text: &str) -> Vec<DeclaredArg> {
        let text = without_bom(text);
        let escape = escape_directive(text);
        let mut declared = Vec::new();
        for instruction in instructions(text, escape) {
            let (keyword, rest) = split_keyword(&instruction.text);
            if !keyword.eq_ignore_ascii_case("ARG") {
                continue;
            }
            for word in rest.split_whitespace() {
                let (name, default) = match word.split_once('=') {
                    Some((name, _)) => (name, true),
                    None => (word, false),
                };
                if !name.is_empty() {
                    declared.push(DeclaredArg {
                        name: name.to_string(),
                        default,
                        line: instruction.first_line,
                    });
                }
            }
        }
        declared
    }

    /// The stage whose image the build produces.
    pub fn final_stage(&self) -> &Stage {
        // `parse` refuses a Dockerfile without stages.
        &self.stages[self.stages.len() - 1]
    }

    /// Follows the final stage through earlier stages to the stage that
    /// starts from an image or from scratch.
    pub fn final_root(&self) -> &Stage {
        let mut stage = self.final_stage();
        while let Base::Stage(index) = stage.base {
            stage = &self.stages[index];
        }
        stage
    }

    /// Every image reference a stage starts from, with its line.
    pub fn images(&self) -> impl Iterator<Item = (&Reference, usize)> {
        self.stages.iter().filter_map(|stage| match &stage.base {
            Base::Image(reference) => Some((reference, stage.first_line)),
            _ => None,
        })
    }

    /// `text` with the FROM of `stage` rewritten to start from `pinned`,
    /// keeping the stage's flags and name and every other line's number.
    pub fn pin(&self, text: &str, stage: &Stage, pinned: &Reference) -> String {
        let mut from = String::from("FROM ");
        if let Some(platform) = &stage.platform {
            from.push_str(&format!("--platform={platform} "));
        }
        from.push_str(&pinned.to_string());
        if let Some(name) = &stage.name {
            from.push_str(&format!(" AS {name}"));
        }
        let mut output = String::with_capacity(text.len() + 80);
        for (index, line) in text.split_inclusive('\n').enumerate() {
            let number = index + 1;
            if number == stage.first_line {
                output.push_str(&from);
                output.push('\n');
            } else if number > stage.first_line && number <= stage.last_line {
                output.push('\n');
            } else {
                output.push_str(line);
            }
        }
        output
    }
}

/// What a Dockerfile's final stage itself sets an environment variable
/// to (see [`env_in_final_stage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSet {
    /// No `ENV` of the final stage (or a stage it builds on) sets it: the
    /// image it starts from decides.
    Unset,
    /// The last `ENV` setting it, a literal value.
    Literal(String),
    /// The last `ENV` setting it uses a variable (`$X`): only the build
    /// knows its value.
    Computed,
}

/// What the last `ENV` instruction setting `name` in the final stage (or
/// an earlier stage it is built on) sets it to, with `build_args`
/// substituted in the FROMs. A Dockerfile that does not parse sets nothing.
pub fn env_in_final_stage(text: &str, build_args: &BTreeMap<String, String>, name: &str) -> EnvSet {
    let Ok(dockerfile) = Dockerfile::parse(text, build_args) else {
        return EnvSet::Unset;
    };
    let text = without_bom(text);
    let escape = escape_directive(text);
    let mut per_stage: Vec<Option<EnvSet>> = vec![None; dockerfile.stages.len()];
    let mut stage: Option<usize> = None;
    for instruction in instructions(text, escape) {
        let (keyword, rest) = split_keyword(&instruction.text);
        match keyword.to_ascii_uppercase().as_str() {
            "FROM" => stage = Some(stage.map_or(0, |index| index + 1)),
            "ENV" => {
                let Some(set) = env_setting(rest, name, escape) else {
                    continue;
                };
                if let Some(slot) = stage.and_then(|index| per_stage.get_mut(index)) {
                    *slot = Some(set);
                }
            }
            _ => {}
        }
    }
    let mut index = dockerfile.stages.len() - 1;
    loop {
        if let Some(Some(set)) = per_stage.get(index) {
            return set.clone();
        }
        match dockerfile.stages[index].base {
            Base::Stage(earlier) if earlier < index => index = earlier,
            _ => return EnvSet::Unset,
        }
    }
}

/// What one `ENV` instruction's arguments (`rest`) set `name` to, if
/// they set it: `NAME=value ...` or the legacy `NAME value`.
fn env_setting(rest: &str, name: &str, escape: char) -> Option<EnvSet> {
    let first = rest.split_whitespace().next()?;
    if !first.contains('=') {
        // `ENV NAME value with spaces`
        let value = rest[first.len()..].trim();
        return (first == name).then(|| literal(value, escape));
    }
    let mut found = None;
    let raw = expand_words(rest, &BTreeMap::new(), escape).ok();
    let words: Vec<&str> = rest.split_whitespace().collect();
    for word in raw.iter().flatten() {
        if let Some((key, value)) = word.split_once('=') {
            if key == name {
                found = Some(EnvSet::Literal(value.to_string()));
            }
        }
    }
    // A variable in the value is expanded by the build, not here.
    let computed = words.iter().any(|word| {
        word.split_once('=')
            .is_some_and(|(key, value)| key == name && value.contains('$'))
    });
    match (found, computed) {
        (_, true) => Some(EnvSet::Computed),
        (found, false) => found,
    }
}

fn literal(value: &str, escape: char) -> EnvSet {
    if value.contains('$') {
        return EnvSet::Computed;
    }
    match expand_words(value, &BTreeMap::new(), escape) {
        Ok(words) => EnvSet::Literal(words.join(" ")),
        Err(_) => EnvSet::Computed,
    }
}

/// `text` with one `LABEL` instruction appended that sets every label in
/// `labels` on the final stage, quoted for the file's escape character, and
/// the labels a Dockerfile cannot carry (a key or value with a line break or
/// other control character), which the caller passes another way.
///
/// The engine's classic builder turns each label passed through the build
/// API into a `LABEL` step of its own, each committing a container; one
/// instruction makes that a single step. A file whose last instruction ends
/// in a line continuation would swallow an appended line, so it is left
/// as it is and every label is returned for the API.
pub fn with_labels(
    text: &str,
    labels: &BTreeMap<String, String>,
) -> (String, BTreeMap<String, String>) {
    if !takes_labels(text) {
        return (text.to_string(), labels.clone());
    }
    let escape = escape_directive(text);
    let quote = |word: &str| {
        let mut quoted = String::with_capacity(word.len() + 2);
        quoted.push('"');
        for c in word.chars() {
            if c == '"' || c == '$' || c == escape {
                quoted.push(escape);
            }
            quoted.push(c);
        }
        quoted.push('"');
        quoted
    };
    let (plain, rest): (Vec<_>, Vec<_>) = labels.iter().partition(|(key, value)| {
        !key.is_empty() && !key.chars().chain(value.chars()).any(char::is_control)
    });
    let mut output = text.to_string();
    if !plain.is_empty() {
        if !output.ends_with('\n') && !output.is_empty() {
            output.push('\n');
        }
        output.push_str("LABEL");
        for (key, value) in plain {
            output.push_str(&format!(" {}={}", quote(key), quote(value)));
        }
        output.push('\n');
    }
    let rest = rest
        .into_iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    (output, rest)
}

/// Whether [`with_labels`] can append a `LABEL` instruction to `text`:
/// not when its last instruction ends in a line continuation.
pub fn takes_labels(text: &str) -> bool {
    let escape = escape_directive(text);
    !text
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty() && !line.starts_with('#'))
        .is_some_and(|line| line.ends_with(escape))
}

/// A logical instruction: continuation lines joined, comments dropped.
struct Instruction {
    text: String,
    first_line: usize,
    last_line: usize,
}

/// The paths in the build context that the `COPY` and `ADD` steps of
/// `text` read, relative to the context's root, when every one of them can
/// be told from the text alone; `None` when one cannot, and the whole
/// context must be sent.
///
/// The classic builder reads the context only through `COPY` and `ADD`
/// (`RUN` sees none of it, and an `ONBUILD` of this file runs in builds
/// FROM its image, not in this one, unless a later stage starts FROM its
/// stage: an `ONBUILD` in a file of several stages gives `None`). A source is told from the text when
/// it is a plain path: no variable (`$`), no wildcard (`*`, `?`, `[`), no
/// escape or quote, no `..`, not the whole context (`.`); the flags are
/// `--from` (the step reads another stage, not the context), `--chown` and
/// `--chmod`, nothing else; `ADD` of a URL reads no context. The
/// `ONBUILD` triggers of the images the stages start from are the
/// caller's to check: they can `COPY` anything.
pub fn context_sources(text: &str) -> Option<Vec<String>> {
    let text = without_bom(text);
    let escape = escape_directive(text);
    let mut sources = Vec::new();
    let (mut stages, mut triggers) = (0, false);
    for instruction in instructions(text, escape) {
        let (keyword, rest) = split_keyword(&instruction.text);
        // A later stage FROM this one would run its triggers.
        triggers |= keyword.eq_ignore_ascii_case("ONBUILD");
        stages += usize::from(keyword.eq_ignore_ascii_case("FROM"));
        let add = keyword.eq_ignore_ascii_case("ADD");
        if !add && !keyword.eq_ignore_ascii_case("COPY") {
            continue;
        }
        let words: Vec<String> = if rest.starts_with('[') {
            serde_json::from_str(rest).ok()?
        } else {
            if rest.contains(['"', '\'', escape, '<']) {
                return None;
            }
            rest.split_whitespace().map(str::to_string).collect()
        };
        let mut words = words.as_slice();
        let mut other_stage = false;
        while let Some(flag) = words.first().and_then(|w| w.strip_prefix("--")) {
            match flag.split_once('=').map(|(name, _)| name) {
                Some("from") => other_stage = true,
                Some("chown" | "chmod") => {}
                _ => return None,
            }
            words = &words[1..];
        }
        if other_stage {
            continue;
        }
        let (_, paths) = words.split_last()?;
        if paths.is_empty() {
            return None;
        }
        for path in paths {
            if add && (path.contains("://") || path.starts_with("git@")) {
                continue;
            }
            sources.push(context_path(path)?);
        }
    }
    if triggers && stages > 1 {
        return None;
    }
    sources.sort();
    sources.dedup();
    Some(sources)
}

/// A plain source path of `COPY` or `ADD` as a path in the context (no
/// leading `/` or `./`, no trailing `/`); `None` when it is not plain or
/// names the whole context.
fn context_path(path: &str) -> Option<String> {
    if path.contains(['$', '*', '?', '[', ']', '\\', '"', '\'']) {
        return None;
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// `text` without a leading UTF-8 byte order mark, which the engine strips
/// as well (editors on Windows write one).
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The escape character from a `# escape=` parser directive, else `\`.
fn escape_directive(text: &str) -> char {
    for line in without_bom(text).lines() {
        let Some(comment) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = comment.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        if key == "escape" {
            return match value.trim() {
                "`" => '`',
                _ => '\\',
            };
        }
        if key != "syntax" && key != "check" {
            break;
        }
    }
    '\\'
}

fn instructions(text: &str, escape: char) -> Vec<Instruction> {
    let mut result = Vec::new();
    let mut current: Option<Instruction> = None;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_none()) {
            continue;
        }
        let (body, continues) = match trimmed.strip_suffix(escape) {
            Some(body) => (body, true),
            None => (trimmed, false),
        };
        let instruction = current.get_or_insert_with(|| Instruction {
            text: String::new(),
            first_line: number,
            last_line: number,
        });
        if !instruction.text.is_empty() && !body.is_empty() {
            instruction.text.push(' ');
        }
        instruction.text.push_str(body);
        instruction.last_line = number;
        if !continues {
            result.extend(current.take());
        }
    }
    result.extend(current);
    result
}

fn split_keyword(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((keyword, rest)) => (keyword, rest.trim_start()),
        None => (text, ""),
    }
}

fn parse_from(
    instruction: &Instruction,
    rest: &str,
    arguments: &BTreeMap<String, String>,
    escape: char,
    earlier: &[Stage],
) -> Result<Stage, DockerfileError> {
    let line = instruction.first_line;
    let words = expand_words(rest, arguments, escape).map_err(|error| error.at(line))?;
    let mut platform = None;
    let mut positional = Vec::new();
    for word in words {
        if let Some(flag) = word.strip_prefix("--") {
            match flag.split_once('=') {
                Some(("platform", value)) => platform = Some(value.to_string()),
                _ => return Err(DockerfileError::InvalidFrom { line, text: word }),
            }
        } else {
            positional.push(word);
        }
    }
    let (image, name) = match positional.as_slice() {
        [image] => (image.clone(), None),
        [image, as_keyword, name] if as_keyword.eq_ignore_ascii_case("as") => {
            (image.clone(), Some(name.to_ascii_lowercase()))
        }
        [] => return Err(DockerfileError::MissingImage { line }),
        _ => {
            return Err(DockerfileError::InvalidFrom {
                line,
                text: rest.to_string(),
            })
        }
    };
    if image.is_empty() {
        let variable = first_variable(rest).unwrap_or_default();
        return Err(DockerfileError::EmptyAfterSubstitution {
            line,
            original: rest.to_string(),
            variable,
        });
    }
    let lowered = image.to_ascii_lowercase();
    let base = if let Some(index) = earlier
        .iter()
        .position(|s| s.name.as_deref() == Some(&lowered))
    {
        Base::Stage(index)
    } else if lowered == "scratch" {
        Base::Scratch
    } else {
        let reference =
            Reference::parse(&image).map_err(|source| DockerfileError::InvalidReference {
                line,
                text: image.clone(),
                source,
            })?;
        Base::Image(reference)
    };
    Ok(Stage {
        name,
        base,
        platform,
        first_line: line,
        last_line: instruction.last_line,
    })
}

/// What `COPY`'s `--from=` flags name when they are not stages: a stage is
/// named by an earlier stage's `AS` name (any case) or by an index, anything
/// else is an image. Empty without `--from` or when each names a stage.
fn copy_from(
    rest: &str,
    arguments: &BTreeMap<String, String>,
    escape: char,
    earlier: &[Stage],
) -> Vec<CopySource> {
    let Some(flags) = flag_words(rest, escape) else {
        let text: String = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        return vec![CopySource::UnreadableFlags(text)];
    };
    flags
        .iter()
        .filter_map(|flag| {
            let (name, value) = flag.split_once('=')?;
            name.eq_ignore_ascii_case("from").then_some(value)
        })
        .filter_map(|flag| from_value(flag, arguments, escape, earlier))
        .collect()
}

/// What one `--from=` value names, `None` for a stage.
fn from_value(
    flag: &str,
    arguments: &BTreeMap<String, String>,
    escape: char,
    earlier: &[Stage],
) -> Option<CopySource> {
    let value = match expand_words(flag, arguments, escape).as_deref() {
        Ok([value]) => value.clone(),
        _ => return Some(CopySource::Unresolved(flag.to_string())),
    };
    let lowered = value.to_ascii_lowercase();
    let stage = earlier
        .iter()
        .any(|stage| stage.name.as_deref() == Some(lowered.as_str()));
    if stage || (!value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit())) {
        return None;
    }
    Some(match Reference::parse(&value) {
        Ok(reference) => CopySource::Image(reference),
        Err(_) => CopySource::Unresolved(flag.to_string()),
    })
}

/// The flags at the start of an instruction's arguments without their
/// `--`, read as the engine reads them (BuildKit's `extractBuilderFlags`):
/// a flag is a word that starts with a literal `--`, flags end at the first
/// word that does not (or at a bare `--`), quotes are removed and a
/// backslash (or the `# escape=` character) takes the next character as
/// it is. So `--"from"=x` and `--fr\om=x` are `from=x`. `None` when a
/// quote is left open: golden cannot tell where the flags end.
fn flag_words(rest: &str, escape: char) -> Option<Vec<String>> {
    let chars: Vec<char> = rest.chars().collect();
    let mut flags = Vec::new();
    let mut index = 0;
    loop {
        while chars.get(index).is_some_and(|c| c.is_whitespace()) {
            index += 1;
        }
        if chars.get(index) != Some(&'-') || chars.get(index + 1) != Some(&'-') {
            return Some(flags);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.get(index) {
            index += 1;
            match quote {
                None if c.is_whitespace() => break,
                None if c == '"' || c == '\'' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == '\\' || c == escape => {
                    if let Some(&next) = chars.get(index) {
                        word.push(next);
                        index += 1;
                    }
                }
                _ => word.push(c),
            }
        }
        if quote.is_some() {
            return None;
        }
        if word == "--" {
            return Some(flags);
        }
        flags.push(word[2..].to_string());
    }
}

fn first_variable(text: &str) -> Option<String> {
    let start = text.find('$')? + 1;
    let rest = text[start..].trim_start_matches('{');
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Splits `text` into words as the engine's shell lexer does for FROM and
/// ARG: whitespace separates, quotes group, the escape character escapes, and
/// `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}`, `${NAME-word}` and
/// `${NAME+word}` are substituted (unset names become empty), and
/// `${NAME:?message}` / `${NAME?message}` fail with the message when NAME is
/// empty or unset / unset.
fn expand_words(
    text: &str,
    arguments: &BTreeMap<String, String>,
    escape: char,
) -> Result<Vec<String>, ExpandError> {
    let open = || ExpandError::Unterminated;
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        index += 1;
        if c.is_whitespace() {
            if in_word {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
            continue;
        }
        in_word = true;
        if c == escape && index < chars.len() {
            word.push(chars[index]);
            index += 1;
        } else if c == '\'' {
            let end = chars[index..]
                .iter()
                .position(|&q| q == '\'')
                .ok_or_else(open)?
                + index;
            word.extend(&chars[index..end]);
            index = end + 1;
        } else if c == '"' {
            loop {
                let q = *chars.get(index).ok_or_else(open)?;
                index += 1;
                match q {
                    '"' => break,
                    '$' => word.push_str(&substitute(&chars, &mut index, arguments, escape)?),
                    _ if q == escape
                        && chars
                            .get(index)
                            .is_some_and(|n| matches!(n, '"' | '$') || *n == escape) =>
                    {
                        word.push(chars[index]);
                        index += 1;
                    }
                    _ => word.push(q),
                }
            }
        } else if c == '$' {
            word.push_str(&substitute(&chars, &mut index, arguments, escape)?);
        } else {
            word.push(c);
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Why a word could not be expanded.
#[derive(Debug)]
enum ExpandError {
    /// A quote or brace left open, or a modifier the engine does not know.
    Unterminated,
    Required {
        variable: String,
        message: String,
    },
}

impl ExpandError {
    fn at(self, line: usize) -> DockerfileError {
        match self {
            ExpandError::Unterminated => DockerfileError::Unterminated { line },
            ExpandError::Required { variable, message } => DockerfileError::RequiredArgument {
                line,
                variable,
                message,
            },
        }
    }
}

/// Expands the variable starting just after a `$` at `chars[*index]`.
fn substitute(
    chars: &[char],
    index: &mut usize,
    arguments: &BTreeMap<String, String>,
    escape: char,
) -> Result<String, ExpandError> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if chars.get(*index) != Some(&'{') {
        let start = *index;
        while *index < chars.len() && is_name(chars[*index]) {
            *index += 1;
        }
        if start == *index {
            return Ok("$".to_string());
        }
        let name: String = chars[start..*index].iter().collect();
        return Ok(arguments.get(&name).cloned().unwrap_or_default());
    }
    *index += 1;
    let start = *index;
    while *index < chars.len() && is_name(chars[*index]) {
        *index += 1;
    }
    let name: String = chars[start..*index].iter().collect();
    let value = arguments.get(&name);
    let close = chars[*index..]
        .iter()
        .position(|&c| c == '}')
        .ok_or(ExpandError::Unterminated)?
        + *index;
    let modifier: String = chars[*index..close].iter().collect();
    *index = close + 1;
    let word = |w: &str| -> Result<String, ExpandError> {
        Ok(expand_words(w, arguments, escape)?.join(" "))
    };
    // Without a message, the engine's own words.
    let required = |w: &str, missing: &str| -> Result<String, ExpandError> {
        let message = word(w)?;
        Err(ExpandError::Required {
            variable: name.clone(),
            message: if message.is_empty() {
                format!("`{name}` is not allowed to be {missing}")
            } else {
                message
            },
        })
    };
    let non_empty = value.is_some_and(|v| !v.is_empty());
    match modifier.as_str() {
        "" => Ok(value.cloned().unwrap_or_default()),
        m if m.starts_with(":-") => match value.filter(|_| non_empty) {
            Some(v) => Ok(v.clone()),
            None => word(&m[2..]),
        },
        m if m.starts_with(":+") => {
            if non_empty {
                word(&m[2..])
            } else {
                Ok(String::new())
            }
        }
        m if m.starts_with(":?") => match value.filter(|_| non_empty) {
            Some(v) => Ok(v.clone()),
            None if value.is_some() => required(&m[2..], "empty"),
            None => required(&m[2..], "unset"),
        },
        m if m.starts_with('-') => match value {
            Some(v) => Ok(v.clone()),
            None => word(&m[1..]),
        },
        m if m.starts_with('+') => match value {
            Some(_) => word(&m[1..]),
            None => Ok(String::new()),
        },
        m if m.starts_with('?') => match value {
            Some(v) => Ok(v.clone()),
            None => required(&m[1..], "unset"),
        },
        _ => Err(ExpandError::Unterminated),
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table tests read best as tuples
mod tests {
    #[test]
    fn the_final_stage_s_literal_env_is_read() {
        let none = BTreeMap::new();
        let read = |text: &str| env_in_final_stage(text, &none, "ASPNET_VERSION");
        assert_eq!(read("FROM a\nRUN true\n"), EnvSet::Unset);
        assert_eq!(
            read("FROM a\nENV ASPNET_VERSION=10.0.3 OTHER=1\n"),
            EnvSet::Literal("10.0.3".into())
        );
        assert_eq!(
            read("FROM a\nENV ASPNET_VERSION 10.0.4\n"),
            EnvSet::Literal("10.0.4".into())
        );
        assert_eq!(
            read("FROM a\nENV ASPNET_VERSION=\"10.0.5\"\nENV ASPNET_VERSION=10.0.6\n"),
            EnvSet::Literal("10.0.6".into())
        );
        assert_eq!(read("FROM a\nENV ASPNET_VERSION=$V\n"), EnvSet::Computed);
        // An earlier stage's ENV belongs to another image...
        assert_eq!(
            read("FROM a AS build\nENV ASPNET_VERSION=1.0.0\nFROM b\nRUN true\n"),
            EnvSet::Unset
        );
        // ...unless the final stage is built on it.
        assert_eq!(
            read("FROM a AS build\nENV ASPNET_VERSION=1.0.0\nFROM build\nRUN true\n"),
            EnvSet::Literal("1.0.0".into())
        );
        assert_eq!(read("FROM a\nENV ASPNET_VERSIONS=1.0.0\n"), EnvSet::Unset);
    }
    use super::*;

    #[test]
    fn context_sources_are_the_plain_paths_copy_and_add_read() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("FROM a\nCOPY small.txt /small.txt\n", Some(&["small.txt"])),
            ("FROM a\nRUN true\n", Some(&[])),
            (
                "FROM a\ncopy --chown=1:1 ./dir/ b.txt /srv/\nADD [\"/c d.txt\", \"/x\"]\n",
                Some(&["b.txt", "c d.txt", "dir"]),
            ),
            (
                "FROM a AS build\nCOPY x /x\nFROM a\nCOPY --from=build /x /y\nADD https://example.test/f /f\n",
                Some(&["x"]),
            ),
            ("FROM a\nCOPY a.txt \\\n  b.txt /\n", Some(&["a.txt", "b.txt"])),
            ("FROM a\nONBUILD COPY . /app\nCOPY a /a\n", Some(&["a"])),
            ("FROM a AS b\nONBUILD COPY . /app\nFROM b\nCOPY x /x\n", None),
            ("FROM a\nCOPY . /app\n", None),
            ("FROM a\nCOPY ./ /app\n", None),
            ("FROM a\nCOPY *.txt /app/\n", None),
            ("FROM a\nCOPY f? /app/\n", None),
            ("FROM a\nARG D=x\nCOPY $D /app/\n", None),
            ("FROM a\nCOPY ../up /app/\n", None),
            ("FROM a\nCOPY --link a /a\n", None),
            ("FROM a\nCOPY \"a b\" /a\n", None),
            ("FROM a\nCOPY [\"a\" /a\n", None),
            ("FROM a\nCOPY only\n", None),
            ("FROM a\nCOPY <<EOF /a\nx\nEOF\n", None),
            ("# escape=`\nFROM a\nCOPY a `\n  b /\n", Some(&["a", "b"])),
            ("# escape=`\nFROM a\nCOPY a\\b /\n", None),
        ];
        for (text, expected) in cases {
            let expected = expected.map(|paths| paths.iter().map(|p| p.to_string()).collect());
            assert_eq!(context_sources(text), expected, "{text}");
        }
    }

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn final_image(text: &str, build_args: &[(&str, &str)]) -> String {
        let dockerfile = Dockerfile::parse(text, &args(build_args)).unwrap();
        match &dockerfile.final_root().base {
            Base::Image(reference) => reference.to_string(),
            Base::Scratch => "scratch".to_string(),
            Base::Stage(_) => unreachable!("final_root follows stages"),
        }
    }

    #[test]
    fn copy_from_names_an_image_unless_it_names_an_earlier_stage() {
        let image = |text: &str| Some(CopySource::Image(Reference::parse(text).unwrap()));
        let cases: Vec<(&str, &str, Option<CopySource>)> = vec![
            ("no --from", "FROM a\nCOPY x /x\n", None),
            (
                "stage name",
                "FROM a AS build\nFROM b\nCOPY --from=build /x /x\n",
                None,
            ),
            (
                "stage name in another case",
                "FROM a AS Build\nFROM b\nCOPY --from=BUILD /x /x\n",
                None,
            ),
            ("stage index", "FROM a\nFROM b\nCOPY --from=0 /x /x\n", None),
            (
                "image",
                "FROM a\nCOPY --from=evil.test/x/y:1 / /\n",
                image("evil.test/x/y:1"),
            ),
            (
                "image after other flags",
                "FROM a\ncopy --chown=1:1 --from=busybox:1 /bin /b\n",
                image("busybox:1"),
            ),
            (
                "a later stage's name is an image",
                "FROM a\nCOPY --from=later / /\nFROM b AS later\n",
                image("later"),
            ),
            (
                "meta arg",
                "ARG SRC=evil.test/x:1\nFROM a\nCOPY --from=${SRC} / /\n",
                image("evil.test/x:1"),
            ),
            (
                "json form",
                "FROM a\nCOPY --from=busybox:2 [\"/a\", \"/b\"]\n",
                image("busybox:2"),
            ),
            (
                "unresolved",
                "FROM a\nARG S\nCOPY --from=$S / /\n",
                Some(CopySource::Unresolved("$S".into())),
            ),
            (
                "a quoted flag name",
                "FROM a\nCOPY --\"from\"=evil.test/x:1 / /\n",
                image("evil.test/x:1"),
            ),
            (
                "an escaped letter in the flag name",
                "FROM a\nCOPY --fr\\om=evil.test/x:1 / /\n",
                image("evil.test/x:1"),
            ),
            (
                "the escape directive's character in the flag name",
                "# escape=`\nFROM a\nCOPY --fr`om=evil.test/x:1 / /\n",
                image("evil.test/x:1"),
            ),
            (
                "a quoted value",
                "FROM a\nCOPY --from='evil.test/x:1' / /\n",
                image("evil.test/x:1"),
            ),
            (
                "after a quoted flag holding a space",
                "FROM a\nCOPY --chown=\"1 1\" --from=evil.test/x:1 / /\n",
                image("evil.test/x:1"),
            ),
            (
                "a flag quote left open",
                "FROM a\nCOPY --chown=\"1 --from=evil.test/x:1 / /\n",
                Some(CopySource::UnreadableFlags(
                    "--chown=\"1 --from=evil.test/x:1 / /".into(),
                )),
            ),
            (
                "an ONBUILD trigger",
                "FROM a AS build\nONBUILD COPY --from=build / /\n",
                image("build"),
            ),
            (
                "flags end at a bare --",
                "FROM a\nCOPY -- --from=busybox /\n",
                None,
            ),
            (
                "a quoted word is no flag",
                "FROM a\nCOPY \"--from=busybox\" /\n",
                None,
            ),
            (
                "a path named --from is no flag",
                "FROM a\nCOPY x --from=busybox /\n",
                None,
            ),
        ];
        for (name, text, expected) in cases {
            let dockerfile = Dockerfile::parse(text, &BTreeMap::new()).unwrap();
            let got = dockerfile.copies.first().map(|copy| copy.source.clone());
            assert_eq!(got, expected, "{name}");
        }
        let dockerfile = Dockerfile::parse(
            "FROM a\nRUN x\nCOPY \\\n  --from=b:1 / /\n",
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(dockerfile.copies[0].line, 3);
    }

    #[test]
    fn final_base_is_resolved_through_args_stages_and_syntax() {
        let cases: Vec<(&str, &str, Vec<(&str, &str)>, &str)> = vec![
            ("plain", "FROM busybox:1.36\nRUN true\n", vec![], "busybox:1.36"),
            ("lowercase", "from busybox:1.36 as base\nrun true\n", vec![], "busybox:1.36"),
            ("arg default", "ARG TAG=1.36\nFROM busybox:${TAG}\n", vec![], "busybox:1.36"),
            ("arg overridden", "ARG TAG=1.36\nFROM busybox:$TAG\n", vec![("TAG", "1.37")], "busybox:1.37"),
            ("arg without default", "ARG BASE\nFROM ${BASE:-alpine:3}\n", vec![], "alpine:3"),
            ("arg without default set", "ARG BASE\nFROM ${BASE:-alpine:3}\n", vec![("BASE", "debian:12")], "debian:12"),
            ("undeclared build arg ignored", "ARG TAG=1\nFROM busybox:${TAG}\n", vec![("OTHER", "2")], "busybox:1"),
            ("arg uses arg", "ARG REGISTRY=r.local:5000\nARG BASE=${REGISTRY}/up/busybox\nFROM $BASE:1\n", vec![], "r.local:5000/up/busybox:1"),
            ("multi arg line", "ARG A=busybox B=1.2\nFROM ${A}:${B}\n", vec![], "busybox:1.2"),
            ("quoted arg", "ARG A=\"busy box\"\nARG B='busybox:9'\nFROM $B\n", vec![], "busybox:9"),
            ("continuation", "FROM \\\n  --platform=linux/amd64 \\\n  # a comment\n  busybox:1 \\\n  AS final\n", vec![], "busybox:1"),
            ("final from stage", "FROM busybox:1 AS base\nRUN x\nFROM alpine:3 AS build\nFROM base\n", vec![], "busybox:1"),
            ("stage names are case-insensitive", "FROM busybox:1 AS Base\nFROM BASE\n", vec![], "busybox:1"),
            ("scratch", "FROM busybox AS build\nFROM scratch\nCOPY --from=build /x /x\n", vec![], "scratch"),
            ("escape directive", "# escape=`\nFROM `\n  busybox:2\n", vec![], "busybox:2"),
            ("comments and blank lines", "# syntax=docker/dockerfile:1\n\n# hello\nFROM busybox:3 # not a comment? no: trailing\n", vec![], "busybox:3"),
            ("digest", "FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", vec![], "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            ("arg after from does not apply", "ARG T=1\nFROM a:$T\nARG T=2\nFROM b:$T\n", vec![], "b:1"),
            ("crlf", "ARG T=4\r\nFROM busybox:$T\r\n", vec![], "busybox:4"),
            ("byte order mark", "\u{feff}FROM busybox:5\n", vec![], "busybox:5"),
            ("byte order mark before a directive", "\u{feff}# escape=`\nFROM `\n  busybox:6\n", vec![], "busybox:6"),
            ("unset arg takes the - word", "ARG BASE\nFROM ${BASE-alpine:3}\n", vec![], "alpine:3"),
            ("empty arg is set for -", "ARG BASE=\nFROM ${BASE-alpine:3}busybox:1\n", vec![], "busybox:1"),
            ("plus word when set", "ARG TAG=x\nFROM busybox${TAG:+:1.36}\n", vec![], "busybox:1.36"),
            ("no plus word when unset", "ARG TAG\nFROM busybox${TAG:+:1.36}\n", vec![], "busybox"),
            ("required and set", "ARG BASE\nFROM ${BASE:?set BASE}\n", vec![("BASE", "debian:12")], "debian:12"),
            ("required unless unset, and set empty", "ARG TAG=\nFROM busybox${TAG?need TAG}\n", vec![], "busybox"),
        ];
        for (name, text, build_args, expected) in cases {
            if name == "comments and blank lines" {
                // A trailing `#` is not a comment: the engine rejects it as extra words.
                assert!(
                    Dockerfile::parse(text, &args(&build_args)).is_err(),
                    "{name}"
                );
                continue;
            }
            assert_eq!(final_image(text, &build_args), expected, "{name}");
        }
    }

    #[test]
    fn stages_record_names_platforms_and_lines() {
        let text = "ARG P=linux/arm64\nFROM --platform=$P busybox:1 AS Build\nRUN make\nFROM \\\n  build\n";
        let dockerfile = Dockerfile::parse(text, &BTreeMap::new()).unwrap();
        assert_eq!(dockerfile.stages.len(), 2);
        let first = &dockerfile.stages[0];
        assert_eq!(first.name.as_deref(), Some("build"));
        assert_eq!(first.platform.as_deref(), Some("linux/arm64"));
        assert_eq!((first.first_line, first.last_line), (2, 2));
        let last = &dockerfile.stages[1];
        assert_eq!(last.base, Base::Stage(0));
        assert_eq!((last.first_line, last.last_line), (4, 5));
        let images: Vec<String> = dockerfile
            .images()
            .map(|(r, l)| format!("{r}@{l}"))
            .collect();
        assert_eq!(images, vec!["busybox:1@2"]);
    }

    #[test]
    fn bad_from_lines_are_errors_with_their_line() {
        let cases: Vec<(&str, DockerfileError)> = vec![
            ("RUN true\n", DockerfileError::NoFrom),
            ("", DockerfileError::NoFrom),
            ("FROM\n", DockerfileError::MissingImage { line: 1 }),
            (
                "\n\nFROM Busybox\n",
                DockerfileError::InvalidReference {
                    line: 3,
                    text: "Busybox".into(),
                    source: ReferenceError::Uppercase("Busybox".into()),
                },
            ),
            (
                "ARG BASE\nFROM $BASE\n",
                DockerfileError::EmptyAfterSubstitution {
                    line: 2,
                    original: "$BASE".into(),
                    variable: "BASE".into(),
                },
            ),
            (
                "FROM busybox AS\n",
                DockerfileError::InvalidFrom {
                    line: 1,
                    text: "busybox AS".into(),
                },
            ),
            (
                "FROM --pull busybox\n",
                DockerfileError::InvalidFrom {
                    line: 1,
                    text: "--pull".into(),
                },
            ),
            ("FROM ${BASE\n", DockerfileError::Unterminated { line: 1 }),
            (
                "ARG BASE\nFROM ${BASE:?set BASE to the upstream image}\n",
                DockerfileError::RequiredArgument {
                    line: 2,
                    variable: "BASE".into(),
                    message: "set BASE to the upstream image".into(),
                },
            ),
            (
                "ARG BASE=\nFROM ${BASE:?}\n",
                DockerfileError::RequiredArgument {
                    line: 2,
                    variable: "BASE".into(),
                    message: "`BASE` is not allowed to be empty".into(),
                },
            ),
            (
                "ARG BASE\nFROM ${BASE?}\n",
                DockerfileError::RequiredArgument {
                    line: 2,
                    variable: "BASE".into(),
                    message: "`BASE` is not allowed to be unset".into(),
                },
            ),
            (
                "ARG R\nARG BASE=${R:?R names the registry}/busybox\nFROM $BASE\n",
                DockerfileError::RequiredArgument {
                    line: 2,
                    variable: "R".into(),
                    message: "R names the registry".into(),
                },
            ),
            (
                "FROM \"busybox\n",
                DockerfileError::Unterminated { line: 1 },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                Dockerfile::parse(text, &BTreeMap::new()),
                Err(expected),
                "{text:?}"
            );
        }
    }

    #[test]
    fn pinning_rewrites_only_the_from_and_keeps_line_numbers() {
        let text =
            "ARG B=busybox:1\nFROM \\\n  --platform=linux/amd64 \\\n  $B AS final\nRUN echo hi\n";
        let dockerfile = Dockerfile::parse(text, &BTreeMap::new()).unwrap();
        let stage = dockerfile.final_root().clone();
        let pinned = Reference::parse(
            "busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        let rewritten = dockerfile.pin(text, &stage, &pinned);
        assert_eq!(
            rewritten,
            "ARG B=busybox:1\nFROM --platform=linux/amd64 busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS final\n\n\nRUN echo hi\n"
        );
        let reparsed = Dockerfile::parse(&rewritten, &BTreeMap::new()).unwrap();
        assert_eq!(reparsed.final_root().base, Base::Image(pinned));
    }

    #[test]
    fn labels_become_one_quoted_instruction() {
        let labels: BTreeMap<String, String> = [
            ("a.b", "plain"),
            ("quote", "say \"hi\" for $HOME \\ done"),
            ("multi", "line\nbreak"),
            ("empty", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (text, rest) = with_labels("FROM scratch", &labels);
        assert_eq!(
            text,
            "FROM scratch\nLABEL \"a.b\"=\"plain\" \"empty\"=\"\" \"quote\"=\"say \\\"hi\\\" for \\$HOME \\\\ done\"\n"
        );
        assert_eq!(rest.keys().collect::<Vec<_>>(), vec!["multi"]);
        let (text, _) = with_labels("# escape=`\nFROM scratch\n", &labels);
        assert!(
            text.ends_with("\"quote\"=\"say `\"hi`\" for `$HOME \\ done\"\n"),
            "{text}"
        );
        let (text, rest) = with_labels("FROM scratch\n", &BTreeMap::new());
        assert_eq!((text.as_str(), rest.len()), ("FROM scratch\n", 0));
        // A last instruction left open would take the LABEL line as its own.
        let open = "FROM scratch\nRUN true \\\n# note\n\n";
        let (text, rest) = with_labels(open, &labels);
        assert_eq!((text.as_str(), rest), (open, labels.clone()));
    }
}
