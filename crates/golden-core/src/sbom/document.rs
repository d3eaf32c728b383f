//! The CycloneDX 1.5 JSON document of one build (one platform), written
//! with the `cyclonedx-bom` crate: the golden build itself (the
//! metadata's component: repository, exact tag, digest, platform), the
//! upstream base it was built FROM (reference and digest), the OS, and
//! every package found. Deterministic: the same build and files give the
//! same bytes (its time is the build's creation time, its serial number
//! derived from the digest), so an SBOM attached again is the same blob.
//! Read back by [`components`], tolerantly, so an SBOM another tool wrote
//! is read too.

use cyclonedx_bom::external_models::date_time::DateTime;
use cyclonedx_bom::external_models::normalized_string::NormalizedString;
use cyclonedx_bom::external_models::uri::Purl;
use cyclonedx_bom::models::bom::{Bom, BomReference, SpecVersion, UrnUuid};
use cyclonedx_bom::models::component::{Classification, Component, Components};
use cyclonedx_bom::models::composition::{AggregateType, Composition, Compositions};
use cyclonedx_bom::models::license::{License, LicenseChoice, Licenses};
use cyclonedx_bom::models::metadata::Metadata;
use cyclonedx_bom::models::organization::OrganizationalEntity;
use cyclonedx_bom::models::property::{Properties, Property};
use cyclonedx_bom::models::tool::Tools;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::layers::Filesystem;
use super::packages::{self, Kind, Os, Package};
use crate::name::Digest;

/// What identifies the build an SBOM describes.
pub struct Identity<'a> {
    /// The image's id in golden.toml.
    pub image: &'a str,
    /// `host/path` of the golden repository.
    pub repository: &'a str,
    /// The exact tag.
    pub version: &'a str,
    /// The manifest the SBOM describes (a platform's, for an index).
    pub digest: &'a Digest,
    /// `os/arch[/variant]`, for one platform of an index.
    pub platform: Option<&'a str>,
    /// The build's creation time (RFC 3339), from its config.
    pub created: Option<&'a str>,
    /// The upstream base: the reference it was built FROM and its digest.
    pub upstream: Option<(&'a str, Option<&'a str>)>,
    /// golden's version.
    pub tool_version: &'a str,
}

/// The bom-ref of the build itself.
pub const BUILD_REF: &str = "golden-build";

/// The SBOM of `identity`'s build, whose merged files are `files`.
pub fn document(identity: &Identity<'_>, files: &Filesystem) -> Vec<u8> {
    let os = packages::os(files);
    let found = packages::packages(files);
    let mut components: Vec<Component> = Vec::new();
    if let Some((reference, digest)) = identity.upstream {
        components.push(upstream_component(reference, digest));
    }
    if let Some(os) = &os {
        let mut component = Component::new(
            Classification::OperatingSystem,
            &os.id,
            os.version.as_deref().unwrap_or(""),
            Some(format!("os:{}", os.id)),
        );
        component.description = os.pretty.as_deref().map(NormalizedString::new);
        if os.version.is_none() {
            component.version = None;
        }
        components.push(component);
    }
    let mut refs = std::collections::BTreeSet::new();
    for package in &found {
        let component = package_component(package, os.as_ref());
        if refs.insert(component.bom_ref.clone()) {
            components.push(component);
        }
    }
    let unread: Vec<String> = files
        .unread
        .iter()
        .cloned()
        .chain(
            files
                .marks
                .iter()
                .filter(|mark| {
                    !super::layers::DOTNET_ROOTS
                        .iter()
                        .any(|root| mark.starts_with(root))
                })
                .map(|mark| format!("/{mark}: golden does not read this package database")),
        )
        .collect();
    let bom = Bom {
        serial_number: UrnUuid::new(format!("urn:uuid:{}", serial(identity))).ok(),
        metadata: Some(metadata(identity, &unread)),
        components: Some(Components(components)),
        compositions: (!unread.is_empty()).then(|| {
            Compositions(vec![Composition {
                bom_ref: None,
                aggregate: AggregateType::Incomplete,
                assemblies: Some(vec![BomReference::new(BUILD_REF)]),
                dependencies: None,
                vulnerabilities: None,
                signature: None,
            }])
        }),
        spec_version: SpecVersion::V1_5,
        ..Bom::default()
    };
    let mut bytes = Vec::new();
    bom.output_as_json_v1_5(&mut bytes)
        .expect("a CycloneDX document serializes");
    bytes
}

fn metadata(identity: &Identity<'_>, unread: &[String]) -> Metadata {
    let mut build = Component::new(
        Classification::Container,
        identity.repository,
        identity.version,
        Some(BUILD_REF.to_string()),
    );
    build.purl = oci_purl(
        identity.repository,
        identity.digest.as_str(),
        Some(identity.version),
        identity.platform,
    );
    let mut properties = vec![
        Property::new("golden:image", identity.image),
        Property::new("golden:digest", identity.digest.as_str()),
    ];
    if let Some(platform) = identity.platform {
        properties.push(Property::new("golden:platform", platform));
    }
    properties.extend(unread.iter().map(|why| Property::new("golden:unread", why)));
    build.properties = Some(Properties(properties));
    let mut tool = Component::new(
        Classification::Application,
        "golden",
        identity.tool_version,
        None,
    );
    tool.bom_ref = None;
    Metadata {
        timestamp: identity
            .created
            .and_then(|created| DateTime::try_from(created.to_string()).ok()),
        tools: Some(Tools::Object {
            services: None,
            components: Some(Components(vec![tool])),
        }),
        authors: None,
        component: Some(build),
        manufacture: None,
        supplier: None,
        licenses: None,
        properties: None,
        lifecycles: None,
    }
}

fn upstream_component(reference: &str, digest: Option<&str>) -> Component {
    let (name, tag) = split_reference(reference);
    let mut component = Component::new(
        Classification::Container,
        name,
        tag.or(digest).unwrap_or(""),
        Some("upstream-base".to_string()),
    );
    component.purl = digest.and_then(|digest| oci_purl(name, digest, tag, None));
    let mut properties = vec![
        Property::new("golden:role", "upstream-base"),
        Property::new("golden:reference", reference),
    ];
    if let Some(digest) = digest {
        properties.push(Property::new("golden:digest", digest));
    }
    component.properties = Some(Properties(properties));
    component
}

/// `host/path` and the tag of `reference` (`host/path:tag[@digest]`).
fn split_reference(reference: &str) -> (&str, Option<&str>) {
    let named = reference.split('@').next().unwrap_or(reference);
    match named.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (named, None),
    }
}

fn package_component(package: &Package, os: Option<&Os>) -> Component {
    let (classification, purl) = match package.kind {
        Kind::Deb => (
            Classification::Library,
            distro_purl("deb", "debian", package, os),
        ),
        Kind::Apk => (
            Classification::Library,
            distro_purl("apk", "alpine", package, os),
        ),
        Kind::DotnetRuntime | Kind::DotnetSdk => (Classification::Framework, None),
    };
    let bom_ref = purl.as_ref().map_or_else(
        || {
            format!(
                "{}:{}@{}",
                kind_name(package.kind),
                package.name,
                package.version
            )
        },
        ToString::to_string,
    );
    let mut component = Component::new(
        classification,
        &package.name,
        &package.version,
        Some(bom_ref),
    );
    component.purl = purl;
    component.supplier = package.maintainer.as_deref().map(OrganizationalEntity::new);
    component.licenses = package.license.as_deref().map(|license| {
        Licenses(vec![LicenseChoice::License(License::named_license(
            license,
        ))])
    });
    let mut properties = vec![
        Property::new("golden:package-type", kind_name(package.kind)),
        Property::new("golden:found-in", &package.found_in),
    ];
    if let Some(source) = &package.source {
        properties.push(Property::new("golden:source-package", source));
    }
    component.properties = Some(Properties(properties));
    component
}

/// What a package kind is called in the SBOM's properties.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Deb => "deb",
        Kind::Apk => "apk",
        Kind::DotnetRuntime => "dotnet-runtime",
        Kind::DotnetSdk => "dotnet-sdk",
    }
}

/// Characters escaped in a purl's parts (RFC 3986 unreserved kept).
const PURL_PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'+');

fn escape(part: &str) -> String {
    utf8_percent_encode(part, PURL_PART).to_string()
}

/// A qualifier's value: `+` escaped too, as query strings read it as a
/// space (`upstream=libsigc%2B%2B-2.0`).
fn escape_value(value: &str) -> String {
    const VALUE: &AsciiSet = &PURL_PART.add(b'+');
    utf8_percent_encode(value, VALUE).to_string()
}

/// `pkg:deb/debian/name@version?arch=..&distro=debian-12`, as scanners
/// match OS packages.
fn distro_purl(kind: &str, default: &str, package: &Package, os: Option<&Os>) -> Option<Purl> {
    let namespace = os.map_or(default, |os| os.id.as_str());
    let mut qualifiers = Vec::new();
    if let Some(arch) = &package.arch {
        qualifiers.push(format!("arch={}", escape_value(arch)));
    }
    if let Some(Os {
        id,
        version: Some(version),
        ..
    }) = os
    {
        qualifiers.push(format!(
            "distro={}",
            escape_value(&format!("{id}-{version}"))
        ));
    }
    if let Some(source) = &package.source {
        qualifiers.push(format!("upstream={}", escape_value(source)));
    }
    let text = format!(
        "pkg:{kind}/{}/{}@{}{}",
        escape(namespace),
        escape(&package.name),
        escape(&package.version),
        query(&qualifiers)
    );
    text.parse().ok()
}

/// `pkg:oci/name@sha256%3A..?repository_url=host/path&tag=..&arch=..`.
fn oci_purl(
    repository: &str,
    digest: &str,
    tag: Option<&str>,
    platform: Option<&str>,
) -> Option<Purl> {
    let name = repository.rsplit('/').next().unwrap_or(repository);
    let mut qualifiers = vec![format!(
        "repository_url={}",
        escape(repository).replace("%2F", "/")
    )];
    if let Some(tag) = tag {
        qualifiers.push(format!("tag={}", escape_value(tag)));
    }
    if let Some(arch) = platform.and_then(|platform| platform.split('/').nth(1)) {
        qualifiers.push(format!("arch={}", escape_value(arch)));
    }
    let text = format!(
        "pkg:oci/{}@{}{}",
        escape(&name.to_lowercase()),
        escape(digest),
        query(&qualifiers)
    );
    text.parse().ok()
}

fn query(qualifiers: &[String]) -> String {
    if qualifiers.is_empty() {
        String::new()
    } else {
        format!("?{}", qualifiers.join("&"))
    }
}

/// A name-based UUID (version 5 layout) of the build's digest and
/// platform: the same build's SBOM keeps its serial number.
fn serial(identity: &Identity<'_>) -> String {
    let hash = Sha256::digest(format!(
        "{}|{}",
        identity.digest,
        identity.platform.unwrap_or("")
    ));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// One component of an SBOM, as `golden sbom` and `golden diff` show it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Entry {
    /// `library`, `framework`, `container`, `operating-system`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// The components of the CycloneDX JSON document `bytes`; `Err` when it
/// is not one.
pub fn components(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let document: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|error| format!("not JSON: {error}"))?;
    if document.get("bomFormat").and_then(|format| format.as_str()) != Some("CycloneDX") {
        return Err("not a CycloneDX document (no `bomFormat: CycloneDX`)".to_string());
    }
    let text = |value: &serde_json::Value, key: &str| {
        value.get(key).and_then(|v| v.as_str()).map(str::to_string)
    };
    let mut entries: Vec<Entry> = document
        .get("components")
        .and_then(|components| components.as_array())
        .into_iter()
        .flatten()
        .map(|component| Entry {
            kind: text(component, "type").unwrap_or_default(),
            name: text(component, "name").unwrap_or_default(),
            version: text(component, "version").unwrap_or_default(),
            purl: text(component, "purl"),
        })
        .collect();
    entries.sort();
    Ok(entries)
}

#[cfg(test)]
mod tests;
