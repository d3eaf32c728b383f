//! Platforms as golden.toml writes them and OCI descriptors carry them:
//! `os/architecture[/variant]` in the OCI spellings (`linux/amd64`,
//! `linux/arm64`, `linux/arm/v7`), and the matching rules that pick a
//! platform's entry out of an image index.
//!
//! Pure: no engine, no registry.

use std::fmt;
use std::str::FromStr;

use crate::diagnostic::closest;

/// Operating systems a Docker Engine builds images for.
pub const KNOWN_OS: &[&str] = &["linux", "windows"];
/// Architectures in their OCI (GOARCH) spelling.
pub const KNOWN_ARCHITECTURES: &[&str] = &[
    "386", "amd64", "arm", "arm64", "loong64", "mips64le", "ppc64le", "riscv64", "s390x",
];

/// Other spellings of an architecture (uname, Debian, LLVM) with the OCI
/// platform to write instead.
const ARCHITECTURE_ALIASES: &[(&str, &str)] = &[
    ("x86_64", "amd64"),
    ("x86-64", "amd64"),
    ("x64", "amd64"),
    ("aarch64", "arm64"),
    ("armv8", "arm64"),
    ("i386", "386"),
    ("i686", "386"),
    ("x86", "386"),
    ("armhf", "arm/v7"),
    ("armv7", "arm/v7"),
    ("armv7l", "arm/v7"),
    ("armel", "arm/v6"),
    ("armv6", "arm/v6"),
    ("ppc64el", "ppc64le"),
];

/// The variants each architecture has, oldest first; an architecture not
/// listed has none.
const VARIANTS: &[(&str, &[&str])] = &[
    ("arm", &["v5", "v6", "v7", "v8"]),
    (
        "arm64",
        &[
            "v8", "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9", "v9",
            "v9.1", "v9.2", "v9.3", "v9.4", "v9.5",
        ],
    ),
    ("amd64", &["v1", "v2", "v3", "v4"]),
];

/// The variant an architecture means when none is written; written, it is
/// dropped, so `linux/arm64/v8` and `linux/arm64` are one platform.
const DEFAULT_VARIANTS: &[(&str, &str)] = &[("arm64", "v8"), ("amd64", "v1")];

/// One platform: `linux/amd64`, `linux/arm64`, `linux/arm/v7`.
///
/// Always normalised: OCI spellings, no default variant (`arm64/v8` is
/// `arm64`), 32-bit `arm` always with its variant (`arm` is `arm/v7`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// Why a text is not a platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("`{text}` is not a platform")]
    Syntax { text: String },
    #[error("platform `{text}` is not lowercase")]
    NotLowercase { text: String, lowercase: String },
    #[error("unknown operating system `{os}` in platform `{text}`")]
    UnknownOs { text: String, os: String },
    #[error("`{architecture}` in platform `{text}` is not the OCI name of the architecture")]
    ArchitectureAlias {
        text: String,
        architecture: String,
        written: String,
    },
    #[error("unknown architecture `{architecture}` in platform `{text}`")]
    UnknownArchitecture { text: String, architecture: String },
    #[error("unknown variant `{variant}` of `{architecture}` in platform `{text}`")]
    UnknownVariant {
        text: String,
        architecture: String,
        variant: String,
    },
}

impl crate::hint::Hint for PlatformError {
    /// How to write the platform instead.
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        let hint = match self {
            PlatformError::Syntax { text } if KNOWN_ARCHITECTURES.contains(&text.as_str()) => {
                format!("a platform names the operating system too: write \"linux/{text}\"")
            }
            PlatformError::Syntax { .. } => {
                "write a platform as \"os/architecture\" or \"os/architecture/variant\", e.g. \"linux/amd64\", \"linux/arm64\" or \"linux/arm/v7\"".into()
            }
            PlatformError::NotLowercase { lowercase, .. } => format!("write \"{lowercase}\""),
            PlatformError::UnknownOs { os, .. } => format!(
                "{}golden builds for {}",
                suggestion(os, KNOWN_OS),
                KNOWN_OS.join(" or ")
            ),
            PlatformError::ArchitectureAlias { written, .. } => format!(
                "platforms use the OCI (Go) architecture names: write \"{written}\""
            ),
            PlatformError::UnknownArchitecture { architecture, .. } => format!(
                "{}known architectures: {}",
                suggestion(architecture, KNOWN_ARCHITECTURES),
                KNOWN_ARCHITECTURES.join(", ")
            ),
            PlatformError::UnknownVariant {
                architecture,
                variant,
                ..
            } => match variants(architecture) {
                [] => format!("`{architecture}` has no variants: remove `/{variant}`"),
                known => format!(
                    "{}variants of `{architecture}`: {}",
                    suggestion(variant, known),
                    known.join(", ")
                ),
            },
        };
        Some(std::borrow::Cow::Owned(hint))
    }
}

fn suggestion(text: &str, candidates: &[&str]) -> String {
    closest(text, candidates)
        .map(|near| format!("did you mean `{near}`? "))
        .unwrap_or_default()
}

fn variants(architecture: &str) -> &'static [&'static str] {
    VARIANTS
        .iter()
        .find(|(name, _)| *name == architecture)
        .map_or(&[], |(_, variants)| variants)
}

fn default_variant(architecture: &str) -> Option<&'static str> {
    DEFAULT_VARIANTS
        .iter()
        .find(|(name, _)| *name == architecture)
        .map(|(_, variant)| *variant)
}

impl Platform {
    /// A platform from its parts, validated and normalised as [`FromStr`] does.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Result<Self, PlatformError> {
        let text = match variant {
            Some(variant) => format!("{os}/{architecture}/{variant}"),
            None => format!("{os}/{architecture}"),
        };
        text.parse()
    }

    pub fn linux_amd64() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    pub fn linux_arm64() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: None,
        }
    }

    pub fn os(&self) -> &str {
        &self.os
    }

    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// The variant, `None` when the architecture has none or it is the
    /// default one.
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// The variants this platform can run, best first: itself, then older
    /// variants of the same architecture (an `arm/v7` machine runs `arm/v6`
    /// and `arm/v5` images; `amd64/v3` runs `v2` and plain `amd64`).
    fn compatible_variants(&self) -> Vec<Option<&'static str>> {
        let known = variants(&self.architecture);
        let own = self
            .variant
            .as_deref()
            .or_else(|| default_variant(&self.architecture));
        let Some(position) = own.and_then(|own| known.iter().position(|v| *v == own)) else {
            return vec![None];
        };
        known[..=position]
            .iter()
            .rev()
            .map(|variant| match default_variant(&self.architecture) {
                Some(default) if default == *variant => None,
                _ => Some(*variant),
            })
            .collect()
    }

    /// How well an image of `candidate` suits this platform: `Some(0)` is
    /// an exact match, higher is an older compatible variant, `None` is no
    /// match. Same OS and architecture only: an arm64 build never takes a
    /// 32-bit arm base.
    pub fn rank(&self, candidate: &Platform) -> Option<usize> {
        if candidate.os != self.os || candidate.architecture != self.architecture {
            return None;
        }
        self.compatible_variants()
            .iter()
            .position(|variant| *variant == candidate.variant.as_deref())
    }

    /// Reads a platform as an index entry states it, leniently: aliases
    /// (`aarch64`, `x86_64`) and any case are accepted, as registries hold
    /// what other tools wrote. `None` when it names nothing golden knows
    /// (e.g. `unknown/unknown` of an attestation manifest).
    pub fn from_descriptor(os: &str, architecture: &str, variant: Option<&str>) -> Option<Self> {
        let os = os.to_ascii_lowercase();
        let mut architecture = architecture.to_ascii_lowercase();
        let mut variant = variant
            .filter(|v| !v.is_empty())
            .map(str::to_ascii_lowercase);
        if let Some((_, written)) = ARCHITECTURE_ALIASES
            .iter()
            .find(|(alias, _)| *alias == architecture)
        {
            let (name, implied) = written.split_once('/').unwrap_or((written, ""));
            architecture = name.to_string();
            if variant.is_none() && !implied.is_empty() {
                variant = Some(implied.to_string());
            }
        }
        // `"variant": "8"` as some tools write it.
        let variant = variant.map(|v| {
            if v.starts_with('v') {
                v
            } else {
                format!("v{v}")
            }
        });
        Platform::new(&os, &architecture, variant.as_deref()).ok()
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || PlatformError::Syntax { text: text.into() };
        let parts: Vec<&str> = text.split('/').collect();
        let (os, architecture, variant) = match parts.as_slice() {
            [os, architecture] => (*os, *architecture, None),
            [os, architecture, variant] => (*os, *architecture, Some(*variant)),
            _ => return Err(syntax()),
        };
        if parts
            .iter()
            .any(|part| part.is_empty() || part.trim() != *part)
        {
            return Err(syntax());
        }
        if text.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(PlatformError::NotLowercase {
                text: text.into(),
                lowercase: text.to_ascii_lowercase(),
            });
        }
        if !KNOWN_OS.contains(&os) {
            return Err(PlatformError::UnknownOs {
                text: text.into(),
                os: os.into(),
            });
        }
        if let Some((_, written)) = ARCHITECTURE_ALIASES
            .iter()
            .find(|(alias, _)| *alias == architecture)
        {
            let written = match (written.split_once('/'), variant) {
                (Some((name, _)), Some(variant)) => format!("{os}/{name}/{variant}"),
                _ => format!("{os}/{written}"),
            };
            return Err(PlatformError::ArchitectureAlias {
                text: text.into(),
                architecture: architecture.into(),
                written,
            });
        }
        if !KNOWN_ARCHITECTURES.contains(&architecture) {
            return Err(PlatformError::UnknownArchitecture {
                text: text.into(),
                architecture: architecture.into(),
            });
        }
        let variant = match variant {
            Some(variant) if !variants(architecture).contains(&variant) => {
                return Err(PlatformError::UnknownVariant {
                    text: text.into(),
                    architecture: architecture.into(),
                    variant: variant.into(),
                })
            }
            Some(variant) if default_variant(architecture) == Some(variant) => None,
            Some(variant) => Some(variant.to_string()),
            // 32-bit arm without a variant means v7, as engines read it.
            None if architecture == "arm" => Some("v7".to_string()),
            None => None,
        };
        Ok(Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant,
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(formatter, "/{variant}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Platform {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|error: PlatformError| {
            serde::de::Error::custom(format!(
                "{error}; {}",
                crate::hint::Hint::hint(&error).unwrap_or_default()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_normalise_and_print() {
        let cases = [
            ("linux/amd64", "linux/amd64"),
            ("linux/arm64", "linux/arm64"),
            ("linux/arm64/v8", "linux/arm64"),
            ("linux/arm64/v8.2", "linux/arm64/v8.2"),
            ("linux/amd64/v1", "linux/amd64"),
            ("linux/amd64/v3", "linux/amd64/v3"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/v6", "linux/arm/v6"),
            ("linux/386", "linux/386"),
            ("linux/s390x", "linux/s390x"),
            ("windows/amd64", "windows/amd64"),
        ];
        for (text, shown) in cases {
            let platform: Platform = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(platform.to_string(), shown, "{text}");
            let again: Platform = shown.parse().unwrap();
            assert_eq!(again, platform, "{text} round-trips");
        }
        let arm: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(
            (arm.os(), arm.architecture(), arm.variant()),
            ("linux", "arm", Some("v7"))
        );
        assert_eq!(Platform::linux_arm64(), "linux/arm64/v8".parse().unwrap());
        assert_eq!(
            Platform::new("linux", "amd64", Some("v1")),
            Ok(Platform::linux_amd64())
        );
    }

    #[test]
    fn bad_platforms_say_what_to_write() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "amd64",
                "is not a platform",
                "names the operating system too: write \"linux/amd64\"",
            ),
            ("linux", "is not a platform", "\"linux/amd64\""),
            ("linux/", "is not a platform", "os/architecture"),
            ("linux/amd64/v2/x", "is not a platform", "os/architecture"),
            (" linux/amd64", "is not a platform", "os/architecture"),
            ("Linux/AMD64", "not lowercase", "write \"linux/amd64\""),
            (
                "linx/amd64",
                "unknown operating system `linx`",
                "did you mean `linux`?",
            ),
            (
                "darwin/arm64",
                "unknown operating system `darwin`",
                "linux or windows",
            ),
            ("linux/x86_64", "not the OCI name", "write \"linux/amd64\""),
            ("linux/aarch64", "not the OCI name", "write \"linux/arm64\""),
            ("linux/armhf", "not the OCI name", "write \"linux/arm/v7\""),
            ("linux/i386", "not the OCI name", "write \"linux/386\""),
            (
                "linux/amd46",
                "unknown architecture `amd46`",
                "did you mean `amd64`?",
            ),
            (
                "linux/arm64/v7",
                "unknown variant `v7` of `arm64`",
                "v8, v8.1",
            ),
            (
                "linux/arm/7",
                "unknown variant `7` of `arm`",
                "did you mean `v7`?",
            ),
            (
                "linux/s390x/v2",
                "unknown variant",
                "has no variants: remove `/v2`",
            ),
        ];
        for (text, message, hint) in cases {
            let error = text.parse::<Platform>().unwrap_err();
            assert!(error.to_string().contains(message), "{text}: {error}");
            let advice = crate::hint::Hint::hint(&error).unwrap_or_default();
            assert!(advice.contains(hint), "{text}: {advice}");
        }
    }

    #[test]
    fn descriptor_platforms_are_read_leniently() {
        let read = |os, architecture, variant| {
            Platform::from_descriptor(os, architecture, variant).map(|p| p.to_string())
        };
        assert_eq!(
            read("linux", "arm64", Some("v8")).as_deref(),
            Some("linux/arm64")
        );
        assert_eq!(
            read("linux", "aarch64", None).as_deref(),
            Some("linux/arm64")
        );
        assert_eq!(
            read("Linux", "x86_64", None).as_deref(),
            Some("linux/amd64")
        );
        assert_eq!(
            read("linux", "arm", Some("7")).as_deref(),
            Some("linux/arm/v7")
        );
        assert_eq!(
            read("linux", "armhf", None).as_deref(),
            Some("linux/arm/v7")
        );
        assert_eq!(
            read("linux", "amd64", Some("")).as_deref(),
            Some("linux/amd64")
        );
        assert_eq!(read("unknown", "unknown", None), None);
        assert_eq!(read("linux", "sparc", None), None);
    }

    #[test]
    fn older_variants_of_the_same_architecture_match_ranked() {
        let platform = |text: &str| text.parse::<Platform>().unwrap();
        let v7 = platform("linux/arm/v7");
        assert_eq!(v7.rank(&platform("linux/arm/v7")), Some(0));
        assert_eq!(v7.rank(&platform("linux/arm/v6")), Some(1));
        assert_eq!(v7.rank(&platform("linux/arm/v5")), Some(2));
        assert_eq!(v7.rank(&platform("linux/arm/v8")), None, "newer");
        let arm64 = platform("linux/arm64");
        assert_eq!(arm64.rank(&platform("linux/arm64/v8")), Some(0));
        assert_eq!(arm64.rank(&platform("linux/arm64/v8.2")), None);
        assert_eq!(arm64.rank(&v7), None, "no 32-bit base for arm64");
        assert_eq!(platform("linux/arm64/v8.2").rank(&arm64), Some(2));
        let v3 = platform("linux/amd64/v3");
        assert_eq!(v3.rank(&platform("linux/amd64/v2")), Some(1));
        assert_eq!(v3.rank(&Platform::linux_amd64()), Some(2));
        assert_eq!(Platform::linux_amd64().rank(&v3), None);
        assert_eq!(
            Platform::linux_amd64().rank(&platform("windows/amd64")),
            None
        );
        assert_eq!(
            platform("linux/s390x").rank(&platform("linux/s390x")),
            Some(0)
        );
    }
}
