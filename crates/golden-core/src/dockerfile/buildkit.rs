//! What a Dockerfile uses that only BuildKit builds (the classic builder
//! stops at it: `the --mount option requires BuildKit`), and the build
//! secrets its `RUN --mount=type=secret` steps ask for, read from the text
//! as BuildKit's Dockerfile frontend reads it.

use super::from::flag_words;
use super::instructions::{
    escape_directive, heredocs, instructions, split_keyword, syntax_directive, without_bom,
};

/// One thing a Dockerfile uses that only BuildKit builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildKitUse {
    /// The 1-based line of the instruction (its first) or directive.
    pub line: usize,
    /// What it is: "`RUN --mount`", "the heredoc `RUN <<EOF`", "the
    /// `# syntax=` parser directive".
    pub what: String,
}

impl std::fmt::Display for BuildKitUse {
    /// "`RUN --mount` on line 3": the reason `builders::choose` takes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on line {}", self.what, self.line)
    }
}

/// One `RUN --mount=type=secret` of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMount {
    /// The id BuildKit asks for: `id=` (or `source=`), else the last part
    /// of `target=`. As written: an id with `$` is expanded by BuildKit
    /// from the build's ARGs and ENVs, which golden does not follow.
    pub id: String,
    /// `required` as written: `Some(true)` for `required` or
    /// `required=true`, `None` when not written (BuildKit then runs the
    /// step without the secret when it is not served).
    pub required: Option<bool>,
    /// The 1-based first line of the RUN instruction.
    pub line: usize,
}

impl SecretMount {
    /// Whether the id is one golden can read: BuildKit expands a `$`.
    pub fn is_literal(&self) -> bool {
        !self.id.contains('$')
    }
}

/// Flags the classic builder takes on `COPY` and on `ADD`: any other flag
/// (and any flag on `RUN`) is BuildKit's.
const CLASSIC_COPY_FLAGS: &[&str] = &["from", "chown"];
const CLASSIC_ADD_FLAGS: &[&str] = &["chown"];

/// Everything `text` uses that only BuildKit builds, in line order: the
/// `# syntax=` directive, any flag on `RUN` (`--mount`, `--network`,
/// `--security`), `COPY` flags but `--from` and `--chown` (`--link`,
/// `--chmod`, `--parents`, `--exclude`), `ADD` flags but `--chown`
/// (`--chmod`, `--checksum`, `--keep-git-dir`, `--link`), and heredocs
/// (`RUN <<EOF`, `COPY <<EOF /file`). `ONBUILD` triggers are left out:
/// they run in the builds of images FROM this one.
pub fn buildkit_uses(text: &str) -> Vec<BuildKitUse> {
    let text = without_bom(text);
    let escape = escape_directive(text);
    let mut uses = Vec::new();
    if let Some((line, value)) = syntax_directive(text) {
        uses.push(BuildKitUse {
            line,
            what: format!("the `# syntax={value}` parser directive"),
        });
    }
    for instruction in instructions(text, escape) {
        let (keyword, rest) = split_keyword(&instruction.text);
        let keyword = keyword.to_ascii_uppercase();
        let classic: &[&str] = match keyword.as_str() {
            "RUN" => &[],
            "COPY" => CLASSIC_COPY_FLAGS,
            "ADD" => CLASSIC_ADD_FLAGS,
            _ => continue,
        };
        let line = instruction.first_line;
        let flags = flag_words(rest, escape).unwrap_or_default();
        for flag in flags {
            let name = flag.split_once('=').map_or(flag.as_str(), |(name, _)| name);
            let name = name.to_ascii_lowercase();
            if !classic.contains(&name.as_str()) {
                let what = format!("`{keyword} --{name}`");
                uses.push(BuildKitUse { line, what });
            }
        }
        for heredoc in heredocs(&instruction.text) {
            let what = format!("the heredoc `{keyword} {}`", heredoc.word);
            uses.push(BuildKitUse { line, what });
        }
    }
    uses
}

/// The first thing `text` uses that only BuildKit builds, if any: why an
/// image built from it needs BuildKit.
pub fn needs_buildkit(text: &str) -> Option<BuildKitUse> {
    buildkit_uses(text).into_iter().next()
}

/// Every `RUN --mount=type=secret` of `text`, in line order (one per
/// mount: an id mounted twice is listed twice). A mount BuildKit would
/// refuse (no `id`, `source` or `target`) is left out.
pub fn secret_mounts(text: &str) -> Vec<SecretMount> {
    run_mounts(text)
        .into_iter()
        .filter(|(_, mount)| mount.kind == "secret")
        .filter_map(|(line, mount)| {
            let id = mount.id.or_else(|| {
                let target = mount.target?;
                let base = target.trim_end_matches('/').rsplit('/').next()?;
                (!base.is_empty()).then(|| base.to_string())
            })?;
            Some(SecretMount {
                id,
                required: mount.required,
                line,
            })
        })
        .collect()
}

/// One `--mount=` of a `RUN`, as far as golden reads it.
#[derive(Debug, Default)]
pub(super) struct Mount {
    /// `type=`, lowercased; `bind` when not written.
    pub(super) kind: String,
    /// `from=`: a stage or image instead of the build context.
    pub(super) from: Option<String>,
    /// `id=`, or `source=` / `src=` (a secret's id either way).
    pub(super) id: Option<String>,
    /// `target=`, `dst=` or `destination=`.
    pub(super) target: Option<String>,
    pub(super) required: Option<bool>,
}

/// The `--mount=` flags of every `RUN` of `text`, each with its first line.
pub(super) fn run_mounts(text: &str) -> Vec<(usize, Mount)> {
    let text = without_bom(text);
    let escape = escape_directive(text);
    let mut mounts = Vec::new();
    for instruction in instructions(text, escape) {
        let (keyword, rest) = split_keyword(&instruction.text);
        if !keyword.eq_ignore_ascii_case("RUN") {
            continue;
        }
        for flag in flag_words(rest, escape).unwrap_or_default() {
            let Some((name, value)) = flag.split_once('=') else {
                continue;
            };
            if name.eq_ignore_ascii_case("mount") {
                mounts.push((instruction.first_line, mount(value)));
            }
        }
    }
    mounts
}

/// One `--mount=` value: comma-separated `key=value` fields (a field in
/// double quotes may hold a comma), keys in any case.
fn mount(value: &str) -> Mount {
    let mut mount = Mount {
        kind: "bind".to_string(),
        ..Mount::default()
    };
    for field in csv_fields(value) {
        let (key, value) = match field.split_once('=') {
            Some((key, value)) => (key.to_ascii_lowercase(), Some(value.to_string())),
            None => (field.to_ascii_lowercase(), None),
        };
        match (key.as_str(), value) {
            ("type", Some(value)) => mount.kind = value.to_ascii_lowercase(),
            ("from", value) => mount.from = value,
            ("id" | "source" | "src", Some(value)) => mount.id = Some(value),
            ("target" | "dst" | "destination", Some(value)) => mount.target = Some(value),
            ("required", None) => mount.required = Some(true),
            ("required", Some(value)) => mount.required = parse_bool(&value),
            _ => {}
        }
    }
    mount
}

/// A boolean as Go's `strconv.ParseBool` reads it.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The fields of one CSV record: `,` separates, `"` quotes (`""` inside
/// quotes is one `"`).
fn csv_fields(text: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}
