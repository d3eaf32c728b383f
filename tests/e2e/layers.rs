//! The layer rule of the README's "Architecture" section, checked on the
//! source of both crates: every `crate::` (and `golden_core::`) path in a module's
//! non-test code is an edge to the unit that holds it; units are declared
//! below in layers, bottom first. A test fails naming the file and line of
//! an edge that points to a higher layer or closes a cycle between units.
//! (Text, not the compiler: a path built by a macro slips past it, which is
//! why the crate split enforces the coarsest rule, core below the binary.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One `use`/path edge: from the module in `file` at `line` to `target`
/// (a module path without `crate::`).
#[derive(Debug, Clone)]
struct Edge {
    file: PathBuf,
    line: usize,
    from: String,
    target: String,
}

/// The module path of a source file under `src`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The text of `source` without comments, string literals and
/// `#[cfg(test)]` items (test code may reach anywhere), lines kept.
fn code_lines(source: &str) -> Vec<String> {
    // Comments and strings first, so braces inside them do not count.
    let mut cleaned = String::with_capacity(source.len());
    let bytes: Vec<char> = source.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < bytes.len() && bytes[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < bytes.len() && !(bytes[i] == '*' && bytes[i + 1] == '/') {
                if bytes[i] == '\n' {
                    cleaned.push('\n');
                }
                i += 1;
            }
            i += 2;
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && !prev_ident(&bytes, i) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while bytes.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if bytes.get(j) != Some(&'"') {
                cleaned.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= bytes.len() {
                    break;
                }
                if bytes[j] == '"' && (0..hashes).all(|k| bytes.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                if bytes[j] == '\n' {
                    cleaned.push('\n');
                }
                j += 1;
            }
            cleaned.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                if bytes[i] == '\\' {
                    i += 1;
                }
                if bytes.get(i) == Some(&'\n') {
                    cleaned.push('\n');
                }
                i += 1;
            }
            i += 1;
            cleaned.push_str("\"\"");
        } else if c == '\'' && is_char_literal(&bytes, i) {
            // '{' and '"' as chars; lifetimes ('a) are left alone.
            let mut j = i + 1;
            if bytes.get(j) == Some(&'\\') {
                j += 1;
            }
            j += 1;
            while j < bytes.len() && bytes[j] != '\'' {
                j += 1;
            }
            i = j + 1;
            cleaned.push_str("' '");
        } else {
            cleaned.push(c);
            i += 1;
        }
    }
    // Then `#[cfg(test)]` items: blank from the attribute to the end of
    // the item (its matching brace, or `;`).
    let mut lines: Vec<String> = cleaned.lines().map(str::to_string).collect();
    let mut index = 0;
    while index < lines.len() {
        if lines[index].trim_start().starts_with("#[cfg(test)]") {
            let mut depth = 0i32;
            let mut opened = false;
            let mut end = index;
            'item: for (offset, line) in lines[index..].iter().enumerate() {
                let skip = if offset == 0 {
                    "#[cfg(test)]".len() + line.find('#').unwrap_or(0)
                } else {
                    0
                };
                for c in line.chars().skip(skip) {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        ';' if !opened => {
                            end = index + offset;
                            break 'item;
                        }
                        _ => {}
                    }
                    if opened && depth == 0 {
                        end = index + offset;
                        break 'item;
                    }
                }
                end = index + offset;
            }
            for line in &mut lines[index..=end] {
                line.clear();
            }
            index = end + 1;
        } else {
            index += 1;
        }
    }
    lines
}

fn prev_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

fn is_char_literal(chars: &[char], i: usize) -> bool {
    matches!(
        (chars.get(i + 1), chars.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// Expands `use` groups: `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = path.find('{') else {
        return vec![path];
    };
    let prefix = &path[..open];
    let inner = &path[open + 1..path.rfind('}').unwrap_or(path.len())];
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|part| !part.is_empty())
        .flat_map(|part| expand(&format!("{prefix}{part}")))
        .collect()
}

/// Every edge of one crate: `roots` are the names its paths start with
/// (`crate`, and `golden_core` seen from the binary, mapped to a prefix).
fn edges(src: &Path, roots: &[(&str, &str)]) -> Vec<Edge> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let module = module_of(src, &file);
        // A whole file of tests (`tests.rs`, `foo/tests/...`) is test code.
        if module
            .split("::")
            .any(|part| part == "tests" || part == "testing")
        {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        let lines = code_lines(&source);
        // `use` statements may span lines: join each one up to its `;`.
        let mut pending: Option<(usize, String)> = None;
        for (number, line) in lines.iter().enumerate() {
            let text = line.trim();
            if let Some((start, mut statement)) = pending.take() {
                statement.push_str(text);
                if text.contains(';') {
                    use_edges(&file, start, &module, &statement, roots, &mut found);
                } else {
                    pending = Some((start, statement));
                }
                continue;
            }
            let use_text = text
                .strip_prefix("pub ")
                .or_else(|| text.strip_prefix("pub(crate) "))
                .or_else(|| text.strip_prefix("pub(super) "))
                .unwrap_or(text);
            if let Some(rest) = use_text.strip_prefix("use ") {
                if rest.contains(';') {
                    use_edges(&file, number + 1, &module, rest, roots, &mut found);
                } else {
                    pending = Some((number + 1, rest.to_string()));
                }
                continue;
            }
            // Paths written in code: `crate::a::b::f()`.
            code_edges(&file, number + 1, &module, text, roots, &mut found);
        }
    }
    found
}

/// The edges of paths written in the code of one line: each `crate::` or
/// `golden_core::` path, mapped through the longest root it starts with.
fn code_edges(
    file: &Path,
    line: usize,
    module: &str,
    text: &str,
    roots: &[(&str, &str)],
    found: &mut Vec<Edge>,
) {
    let chars: Vec<char> = text.chars().collect();
    let mut heads: BTreeSet<&str> = BTreeSet::new();
    for (root, _) in roots {
        heads.insert(root.split("::").next().unwrap_or(root));
    }
    for head in heads {
        let needle = format!("{head}::");
        let mut at = 0;
        while let Some(position) = text[at..].find(&needle) {
            let begin = at + position;
            at = begin + needle.len();
            if begin > 0 && prev_ident(&chars, text[..begin].chars().count()) {
                continue;
            }
            let path: String = text[begin..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if let Some(target) = map_root(path.trim_end_matches(':'), roots) {
                found.push(Edge {
                    file: file.to_path_buf(),
                    line,
                    from: module.to_string(),
                    target,
                });
            }
        }
    }
}

/// `path` (`crate::a::b`) as a module path of the crate checked, through
/// the longest root it starts with; `None` for another crate's path.
fn map_root(path: &str, roots: &[(&str, &str)]) -> Option<String> {
    let (root, prefix) = roots
        .iter()
        .filter(|(root, _)| path == *root || path.starts_with(&format!("{root}::")))
        .max_by_key(|(root, _)| root.len())?;
    Some(join(prefix, path[root.len()..].trim_start_matches(':')))
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}::{path}"),
    }
}

fn use_edges(
    file: &Path,
    line: usize,
    module: &str,
    statement: &str,
    roots: &[(&str, &str)],
    found: &mut Vec<Edge>,
) {
    let statement = statement.trim_end_matches(';').trim();
    for path in expand(statement) {
        let path = path.split(" as ").next().unwrap_or(&path).to_string();
        let target = if let Some(target) = map_root(&path, roots) {
            target
        } else if path.starts_with("super::") || path.starts_with("self::") {
            let mut base: Vec<&str> = if module.is_empty() {
                Vec::new()
            } else {
                module.split("::").collect()
            };
            let mut rest = path.as_str();
            if let Some(after) = rest.strip_prefix("self::") {
                rest = after;
            }
            while let Some(after) = rest.strip_prefix("super::") {
                base.pop();
                rest = after;
            }
            join(&base.join("::"), rest)
        } else {
            continue;
        };
        found.push(Edge {
            file: file.to_path_buf(),
            line,
            from: module.to_string(),
            target,
        });
    }
}

/// The declared unit a module path falls in: the longest unit that is it
/// or one of its ancestors.
fn unit_of<'a>(module: &str, units: &'a [&'a str]) -> Option<&'a str> {
    units
        .iter()
        .copied()
        .filter(|unit| module == *unit || module.starts_with(&format!("{unit}::")))
        .max_by_key(|unit| unit.len())
}

/// The problems of one crate against its layers (bottom first): an edge
/// to a higher layer, a module in no unit, or a cycle between units.
fn problems(src: &Path, roots: &[(&str, &str)], layers: &[&[&str]]) -> Vec<String> {
    let units: Vec<&str> = layers
        .iter()
        .flat_map(|layer| layer.iter().copied())
        .collect();
    let layer_of = |unit: &str| {
        layers
            .iter()
            .position(|layer| layer.contains(&unit))
            .unwrap()
    };
    let mut problems = Vec::new();
    let mut graph: BTreeMap<&str, BTreeMap<&str, Edge>> = BTreeMap::new();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    for file in &files {
        let module = module_of(src, file);
        let test = module
            .split("::")
            .any(|part| part == "tests" || part == "testing");
        if !module.is_empty() && !test && unit_of(&module, &units).is_none() {
            problems.push(format!(
                "{}: module `{module}` is in no declared unit: add it to a layer in tests/e2e/layers.rs",
                file.display()
            ));
        }
    }
    for edge in edges(src, roots) {
        // The crate root declares and re-exports modules: no layer.
        let Some(from) = unit_of(&edge.from, &units) else {
            continue;
        };
        let Some(to) = unit_of(&edge.target, &units) else {
            // A path the declared units do not hold: the crate root's
            // re-exports of the core (checked as the core's own edges).
            continue;
        };
        if from == to {
            continue;
        }
        if layer_of(to) > layer_of(from) {
            problems.push(format!(
                "{}:{}: `{}` (layer {}) imports `{}` (layer {}), a higher layer: move the item down, or invert the dependency",
                edge.file.display(),
                edge.line,
                from,
                layer_of(from),
                to,
                layer_of(to)
            ));
        }
        graph.entry(from).or_default().entry(to).or_insert(edge);
    }
    problems.sort();
    problems.dedup();
    // Cycles: a unit that reaches itself, reported by the edges around it.
    let mut reported = BTreeSet::new();
    for start in graph.keys().copied() {
        if let Some(path) = cycle_from(&graph, start) {
            let key: BTreeSet<&str> = path.iter().copied().collect();
            if !reported.insert(key) {
                continue;
            }
            let steps: Vec<String> = path
                .windows(2)
                .map(|pair| {
                    let edge = &graph[pair[0]][pair[1]];
                    format!(
                        "{} -> {} ({}:{})",
                        pair[0],
                        pair[1],
                        edge.file.display(),
                        edge.line
                    )
                })
                .collect();
            problems.push(format!("import cycle: {}", steps.join(", ")));
        }
    }
    problems
}

/// The shortest path from `start` back to itself, if any.
fn cycle_from<'a>(
    graph: &BTreeMap<&'a str, BTreeMap<&'a str, Edge>>,
    start: &'a str,
) -> Option<Vec<&'a str>> {
    let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in graph
            .get(node)
            .into_iter()
            .flat_map(|targets| targets.keys().copied())
        {
            if next == start {
                let mut path = vec![start, node];
                let mut at = node;
                while at != start {
                    at = previous[at];
                    path.push(at);
                }
                path.pop();
                path.reverse();
                path.insert(0, start);
                // path: start, ..., node, then close the loop.
                let mut closed: Vec<&str> = path;
                closed.push(start);
                closed.dedup();
                return Some(closed);
            }
            if !previous.contains_key(next) && next != start {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

/// golden-core's units, bottom layer first: a unit may use its own layer's
/// units (no cycle) and those below, never above.
const CORE: &[&[&str]] = &[
    &[
        "hint",
        "sanitize",
        "diagnostic",
        "files",
        "labels",
        "dockerignore",
    ],
    &["duration", "schedule", "platform", "name", "failing"],
    &["version", "index", "dockerfile", "context", "sbom"],
    &["upstream"],
    &["config"],
    &["graph", "registry", "engine"],
    &[
        "build_args",
        "buildkit",
        "provenance",
        "scan",
        "signing",
        "referrers",
    ],
    &["project", "check"],
    &["observation"],
    &["plan"],
    &["outcome", "pipeline"],
    &["report"],
    &["history", "diff", "scaffold", "schema"],
];

/// The binary's units, bottom layer first. Its paths into the core
/// (`golden_core::...`, or the core modules the crate root re-exports)
/// point below every one of them. The adapters sit above `execute`, so
/// only `session` and those above it can name them.
const BINARY: &[&[&str]] = &[
    &[
        "ui",
        "regular_file",
        "lock",
        "revision",
        "checkout",
        "retry",
        "discover",
        "stop",
    ],
    &[
        "signals", "load", "context", "engine", "registry", "pool", "inspect",
    ],
    &["observe", "error", "failures"],
    &["exit"],
    &["notify", "execute", "keys"],
    &["engine::docker", "registry::distribution"],
    &["session"],
    &["run"],
    &["daemon"],
    &["cli"],
];

/// How the binary's paths map to units: `golden_core::...` and the core
/// modules its root re-exports (`crate::config` is `golden_core::config`)
/// are the core's, below every unit of the binary.
fn binary_roots() -> Vec<(String, String)> {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/golden-core/src");
    let mut roots = vec![
        (
            "golden_core::reference".to_string(),
            "core::name::reference".to_string(),
        ),
        ("golden_core".to_string(), "core".to_string()),
        ("crate".to_string(), String::new()),
        (
            "crate::reference".to_string(),
            "core::name::reference".to_string(),
        ),
    ];
    let mut files = Vec::new();
    rust_files(&core, &mut files);
    let tops = |src: &Path, files: &[PathBuf]| -> BTreeSet<String> {
        files
            .iter()
            .filter_map(|file| {
                let module = module_of(src, file);
                let top = module.split("::").next()?.to_string();
                (!top.is_empty()).then_some(top)
            })
            .collect()
    };
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut own = Vec::new();
    rust_files(&src, &mut own);
    // The binary's own `engine`, `registry` and `context` hold the core's
    // ports re-exported beside its adapters: they are the binary's units.
    let own = tops(&src, &own);
    for module in tops(&core, &files).difference(&own) {
        roots.push((format!("crate::{module}"), format!("core::{module}")));
    }
    roots
}

fn check(dir: &str, roots: &[(String, String)], layers: &[&[&str]]) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let roots: Vec<(&str, &str)> = roots
        .iter()
        .map(|(root, prefix)| (root.as_str(), prefix.as_str()))
        .collect();
    let problems = problems(&src, &roots, layers);
    assert!(
        problems.is_empty(),
        "{dir}: the layer rule (README \"Architecture\") is broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_core_has_no_import_cycle_and_no_upward_import() {
    let roots = [
        (
            "crate::reference".to_string(),
            "name::reference".to_string(),
        ),
        ("crate".to_string(), String::new()),
    ];
    check("crates/golden-core/src", &roots, CORE);
}

#[test]
fn the_binary_has_no_import_cycle_and_no_upward_import() {
    check("src", &binary_roots(), BINARY);
}

/// The checker itself, on a crate made for it: an upward import, a cycle
/// and an undeclared module are each named with their file and line.
#[test]
fn an_upward_import_a_cycle_and_an_undeclared_module_are_named() {
    let directory = tempfile::tempdir().unwrap();
    let src = directory.path();
    let write = |name: &str, text: &str| std::fs::write(src.join(name), text).unwrap();
    write(
        "lib.rs",
        "pub mod low;\npub mod high;\npub mod a;\npub mod b;\npub mod stray;\n",
    );
    write(
        "low.rs",
        "use crate::high::Thing;\n#[cfg(test)]\nmod tests { use crate::stray::X; }\n",
    );
    write(
        "high.rs",
        "pub struct Thing;\nfn f() { crate::low::g(); }\n",
    );
    write("a.rs", "use crate::{b::B, low};\n");
    write("b.rs", "// crate::a is only named in a comment\nfn f() { let _ = \"crate::high\"; crate::a::h(); }\n");
    write("stray.rs", "pub struct X;\n");
    let layers: &[&[&str]] = &[&["low"], &["a", "b"], &["high"]];
    let found = problems(src, &[("crate", "")], layers);
    let text = found.join("\n");
    assert!(
        text.contains("low.rs:1: `low` (layer 0) imports `high` (layer 2)"),
        "{text}"
    );
    assert!(
        text.contains("import cycle: a -> b (") && text.contains("b -> a ("),
        "{text}"
    );
    assert!(text.contains("b.rs:2"), "{text}");
    assert!(
        text.contains("module `stray` is in no declared unit"),
        "{text}"
    );
    // Comments, strings and test code are not edges.
    assert_eq!(found.len(), 4, "{text}");
}

/// The size rule of the README's "Architecture" section: no source file
/// over `FILE_LINES` lines of non-test code, no function over
/// `FUNCTION_LINES` lines from its `fn` to its closing brace. Files that are
/// test code as a whole (`tests.rs`, a `tests/` folder) are not counted.
const FILE_LINES: usize = 650;
const FUNCTION_LINES: usize = 80;

fn oversized(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        if relative.ends_with("tests.rs") || relative.iter().any(|part| part == "tests") {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        let code = code_lines(&source);
        // A line of non-test code: any line a `#[cfg(test)]` item did not
        // blank (comments and blank lines count; the reader reads them).
        let test_lines = test_item_lines(&source);
        let size = source.lines().count() - test_lines;
        if size > FILE_LINES {
            found.push(format!(
                "{}: {size} lines of non-test code (at most {FILE_LINES})",
                relative.display()
            ));
        }
        for (name, line, length) in functions(&code) {
            if length > FUNCTION_LINES {
                found.push(format!(
                    "{}:{line}: fn {name} is {length} lines (at most {FUNCTION_LINES})",
                    relative.display()
                ));
            }
        }
    }
    found
}

/// How many lines of `source` belong to `#[cfg(test)]` items.
fn test_item_lines(source: &str) -> usize {
    // code_lines blanks comments as well as test items; tell them apart by
    // blanking test items in a copy whose comments are turned into code.
    let marked: String = source
        .lines()
        .map(|line| {
            let trimmed = line.trim();
            if trimmed.is_empty() {
                "x".to_string()
            } else {
                line.replace("//", "x ")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    code_lines(&marked)
        .iter()
        .filter(|line| line.trim().is_empty())
        .count()
}

/// Each `fn` with a body in `code` (comment- and string-free lines): its
/// name, 1-based line and length in lines up to its closing brace.
fn functions(code: &[String]) -> Vec<(String, usize, usize)> {
    let mut found = Vec::new();
    for (index, line) in code.iter().enumerate() {
        let mut rest = line.as_str();
        while let Some(at) = rest.find("fn ") {
            let before = rest[..at].chars().last();
            rest = &rest[at + 3..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                continue;
            }
            if let Some(end) = body_end(code, index, line.len() - rest.len()) {
                found.push((name, index + 1, end - index + 1));
            }
        }
    }
    found
}

/// The line of the brace closing the body that opens at or after `column`
/// of line `start`; `None` for a declaration ending in `;`.
fn body_end(code: &[String], start: usize, column: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut opened = false;
    for (index, line) in code.iter().enumerate().skip(start) {
        let text = if index == start {
            &line[column..]
        } else {
            line.as_str()
        };
        for c in text.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    if opened && depth == 0 {
                        return Some(index);
                    }
                }
                ';' if !opened => return None,
                _ => {}
            }
        }
    }
    None
}

#[test]
fn no_source_file_or_function_is_over_the_size_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = oversized(&root.join("src"));
    found.extend(oversized(&root.join("crates/golden-core/src")));
    assert!(
        found.is_empty(),
        "the size rule (README \"Architecture\") is broken:\n{}",
        found.join("\n")
    );
}

/// The size checker itself: a long function and a long file are named,
/// test code, comments and strings are not counted.
#[test]
fn the_size_rule_names_a_long_function_and_a_long_file() {
    let directory = tempfile::tempdir().unwrap();
    let src = directory.path();
    let body = "    let _ = 1;\n".repeat(FUNCTION_LINES - 1);
    let long = format!("/// fn in a comment {{\nfn long() {{\n{body}}}\n");
    let short = format!(
        "fn short() {{\n    let _ = \"}} fn x() {{\";\n{}}}\n",
        "    let _ = 2;\n".repeat(FUNCTION_LINES - 3)
    );
    let tests = format!(
        "#[cfg(test)]\nmod tests {{\n{}}}\n",
        "    fn t() {}\n".repeat(FILE_LINES)
    );
    std::fs::write(src.join("a.rs"), format!("{long}{short}{tests}")).unwrap();
    std::fs::write(src.join("b.rs"), "// a line\n".repeat(FILE_LINES + 1)).unwrap();
    std::fs::create_dir(src.join("tests")).unwrap();
    std::fs::write(src.join("tests/c.rs"), "// x\n".repeat(FILE_LINES + 1)).unwrap();
    let found = oversized(src);
    let text = found.join("\n");
    assert!(
        text.contains(&format!("a.rs:2: fn long is {} lines", FUNCTION_LINES + 1)),
        "{text}"
    );
    assert!(
        text.contains(&format!("b.rs: {} lines of non-test code", FILE_LINES + 1)),
        "{text}"
    );
    assert_eq!(found.len(), 2, "{text}");
}
