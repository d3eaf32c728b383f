//! The floating tags a build may take: the kinds a line's `floating` list
//! names, and those no higher line owns.

use super::Exact;

/// One kind of floating tag a line may move (`floating` in golden.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Floating {
    /// `X.Y.Z[-PRE]`: the newest build of an upstream version (upstream
    /// versioning only).
    Upstream,
    /// `X.Y`: the line's release.
    Line,
    /// `X`: the release of the highest line of the major.
    Major,
    /// `latest`: the release of the highest line.
    Latest,
}

impl Floating {
    /// Every kind, in the order they are written and moved.
    pub const ALL: [Floating; 4] = [
        Floating::Upstream,
        Floating::Line,
        Floating::Major,
        Floating::Latest,
    ];

    /// How golden.toml spells it.
    pub fn name(self) -> &'static str {
        match self {
            Floating::Upstream => "X.Y.Z",
            Floating::Line => "X.Y",
            Floating::Major => "X",
            Floating::Latest => "latest",
        }
    }

    pub fn parse(text: &str) -> Option<Floating> {
        Floating::ALL.into_iter().find(|kind| kind.name() == text)
    }

    /// The kinds a build of `release` may take under a line's `floating`
    /// list (`None`: not written, every kind). Only an upstream build has
    /// an `X.Y.Z`; a prerelease takes `X` and `latest` only when the list
    /// names them.
    pub fn allowed(release: &Exact, floating: Option<&[Floating]>) -> Vec<Floating> {
        Floating::ALL
            .into_iter()
            .filter(|kind| match floating {
                Some(list) => list.contains(kind),
                None => {
                    !(release.is_prerelease() && matches!(kind, Floating::Major | Floating::Latest))
                }
            })
            .filter(|kind| *kind != Floating::Upstream || release.revision.is_some())
            .collect()
    }
}

/// The floating tags that may point at `new`, given every exact version in
/// the repository: `X.Y` always; `X` unless a higher `X.Z` line exists;
/// `latest` unless a higher line of any major exists.
pub fn floating_tags(new: Exact, versions: &[Exact]) -> Vec<String> {
    let line = new.line;
    let mut tags = vec![line.to_string()];
    let higher_in_major = versions
        .iter()
        .any(|v| v.line.major == line.major && v.line.minor > line.minor);
    if !higher_in_major {
        tags.push(line.major.to_string());
    }
    if !versions.iter().any(|v| v.line > line) {
        tags.push("latest".to_string());
    }
    tags
}
