//! Which paths of the build context a Dockerfile's `COPY` and `ADD` steps
//! read, when the text alone tells.

use super::instructions::{escape_directive, instructions, split_keyword, without_bom};

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
/// `--chmod`, nothing else; `ADD` of a URL reads no context. BuildKit's
/// `RUN --mount=type=bind` without `from=` (bind is a mount's default
/// type) reads the context as well: that gives `None`. The
/// `ONBUILD` triggers of the images the stages start from are the
/// caller's to check: they can `COPY` anything.
pub fn context_sources(text: &str) -> Option<Vec<String>> {
    let text = without_bom(text);
    let escape = escape_directive(text);
    let binds_context = super::buildkit::run_mounts(text)
        .iter()
        .any(|(_, mount)| mount.kind == "bind" && mount.from.is_none());
    if binds_context {
        return None;
    }
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
