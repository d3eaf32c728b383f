//! The upstream version a build of an upstream-versioned line holds, read
//! before anything is built (SPEC section 7): from the Dockerfile's final
//! stage, the base image's config, a build arg or the final FROM's tag.
//! Also the two checks around it: a line switching from `line` to
//! `upstream` versioning never moves an old exact tag as a floating tag,
//! and a build whose image ends up with another version in its env than
//! the one read is never pushed.

use anyhow::{anyhow, Context as _};

use crate::config::Image;
use crate::dockerfile::{env_in_final_stage, EnvSet};
use crate::hint::Hinted;
use crate::labels;
use crate::name::Repository;
use crate::observation::LastBuild;
use crate::reference::Reference;
use crate::registry::Registry;
use crate::upstream::{read_version, Source};
use crate::version::{Exact, Floating, UpstreamVersion};

/// The upstream version read for a build, and (for `{ env = NAME }`) the
/// value the built image must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRead {
    pub version: UpstreamVersion,
    pub env: Option<EnvExpected>,
}

/// The value of an env variable read before the build, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvExpected {
    pub name: String,
    pub value: String,
    /// Where it was read: "the Dockerfile's final stage" or "the base image `...`".
    pub from: String,
}

/// Where a build reads its upstream version: the image, its Dockerfile,
/// its base pinned by digest (`None`: scratch) and the final FROM's tag.
pub struct Inputs<'a> {
    pub image: &'a Image,
    pub dockerfile: &'a str,
    pub base: Option<&'a Reference>,
    /// The tag the final FROM names (or the one tracking resolved it to).
    pub from_tag: Option<&'a str>,
}

/// The upstream version of a build of `inputs.image`, or `None` under
/// line versioning. One registry read (the base's config, from the blob
/// cache when read before) for `env` and `label` sources; none otherwise.
pub async fn read_upstream(
    registry: &dyn Registry,
    inputs: &Inputs<'_>,
) -> anyhow::Result<Option<UpstreamRead>> {
    let image = inputs.image;
    let Some(source) = &image.upstream_version else {
        return Ok(None);
    };
    let base_config = || async {
        match inputs.base {
            Some(base) => registry
                .image_config(base)
                .await
                .map(Some)
                .with_context(|| format!("failed to read the config of the base image `{base}`")),
            None => Ok(None),
        }
    };
    let mut env = None;
    let found: Option<String> = match source {
        Source::Env(name) => match env_in_final_stage(inputs.dockerfile, &image.build_args, name) {
            EnvSet::Literal(value) => {
                env = Some((value.clone(), "the Dockerfile's final stage".to_string()));
                Some(value)
            }
            EnvSet::Computed => {
                return Err(Hinted::new(
                    format!("cannot read the upstream version of `{}`: its Dockerfile sets ENV {name} from a variable, whose value only the build knows", image.id),
                    format!("write `ENV {name}=<version>` with a literal value in the final stage, or let the base image set it"),
                )
                .into())
            }
            EnvSet::Unset => {
                let value = base_config().await?.and_then(|config| config.env_value(name));
                if let (Some(value), Some(base)) = (&value, inputs.base) {
                    env = Some((value.clone(), format!("the base image `{base}`")));
                }
                value
            }
        },
        Source::Label(key) => base_config().await?.and_then(|config| config.label(key)),
        Source::BuildArg(name) => image.build_args.get(name).cloned(),
        Source::FromTag(_) => inputs.from_tag.map(str::to_string),
    };
    let base = inputs.base.map(ToString::to_string);
    let version = read_version(source, found.as_deref(), base.as_deref(), image.version)
        .with_context(|| format!("cannot build `{}` under upstream versioning", image.id))?;
    let env = match (source, env) {
        (Source::Env(name), Some((value, from))) => Some(EnvExpected {
            name: name.clone(),
            value,
            from,
        }),
        _ => None,
    };
    Ok(Some(UpstreamRead { version, env }))
}

/// What moving an upstream version's `X.Y.Z` would be part of: a build
/// (checked before building) or the promotion of a build already pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moving {
    Build,
    Promote(Exact),
}

/// Whether the floating tag `X.Y.Z` a build of `upstream` would move may
/// move: absent, or on a golden build of that upstream version (its
/// version label an `X.Y.Z-rN` whose exact tag holds the same manifest).
/// Anything else there (an exact tag of the counter scheme, `10.0.1`, left
/// by a line that switched to upstream versioning; an image pushed by
/// hand) is refused, with the ways out: before building, and again before
/// any floating tag moves (a promotion builds nothing, and `X.Y.Z` may
/// have been added to `floating` after the build).
pub async fn check_switch(
    registry: &dyn Registry,
    image: &Image,
    repository: &Repository,
    upstream: UpstreamVersion,
    moving: Moving,
) -> anyhow::Result<()> {
    if !Floating::allowed(&upstream.revision(1), image.floating.as_deref())
        .contains(&Floating::Upstream)
    {
        return Ok(());
    }
    let floating = repository.tag(&upstream.tag());
    let failed = || match moving {
        Moving::Build => format!("failed to read `{floating}` before building `{}`", image.id),
        Moving::Promote(_) => format!(
            "failed to read `{floating}` before moving the floating tags of `{}`",
            image.id
        ),
    };
    let Some(digest) = registry
        .manifest_digest(&floating)
        .await
        .with_context(failed)?
    else {
        return Ok(());
    };
    let config = registry
        .image_config(&repository.digest(&digest))
        .await
        .with_context(failed)?;
    let label = config.label(labels::VERSION);
    let build = label
        .as_deref()
        .and_then(|label| label.parse::<Exact>().ok())
        .filter(|build| build.upstream() == Some(upstream))
        .filter(|_| config.label(labels::RECIPE).is_some());
    if let Some(build) = build {
        let held = registry
            .manifest_digest(&repository.tag(&build.tag()))
            .await
            .with_context(failed)?;
        if held.as_ref() == Some(&digest) {
            return Ok(());
        }
    }
    let what = match label {
        Some(label) if label == upstream.to_string() => format!(
            "an exact tag of `versioning = \"line\"` (its version label says {label}: golden's build counter, not the upstream version)"
        ),
        Some(label) => format!("not a golden build of upstream {upstream} (its version label says {label})"),
        None => format!("not a golden build of upstream {upstream} (it has no version label)"),
    };
    let (refusing, this) = match moving {
        Moving::Build => (format!("build `{}`", image.id), "this build".to_string()),
        Moving::Promote(version) => (
            format!("promote {version} of `{}`", image.id),
            "promoting it".to_string(),
        ),
    };
    Err(Hinted::new(
        format!(
            "refusing to {refusing} under upstream versioning: `{floating}` ({digest}) is {what}, and {this} would move it as the floating tag of upstream {upstream}; exact tags are never moved"
        ),
        format!(
            "delete `{floating}` from the registry after checking nothing uses it (an application pinned to it would change image), or keep `versioning = \"line\"` for this line, or give the image a new `name` so upstream versioning starts in a new repository"
        ),
    )
    .into())
}

/// Refuses, before building, a build of `upstream` older than the upstream
/// version of the line's newest golden build not withdrawn (`last`, as
/// observed: under upstream versioning the newest not withdrawn when there
/// is one). golden builds a line forward only: built, it would be the
/// line's newest build to compare with for nothing, and every later plan
/// would compare with the newer one and build again. The same upstream
/// version takes its next revision.
pub fn check_forward(
    id: &str,
    last: Option<&LastBuild>,
    upstream: UpstreamVersion,
) -> anyhow::Result<()> {
    let Some(last) = last.filter(|last| !last.withdrawn.contains(&last.version)) else {
        return Ok(());
    };
    let Some(newest) = last.version.upstream().filter(|newest| upstream < *newest) else {
        return Ok(());
    };
    Err(Hinted::new(
        format!(
            "refusing to build `{id}`: golden builds a line forward only: upstream {upstream} is older than {}, the line's newest build (of upstream {newest})",
            last.version
        ),
        format!(
            "to go back, `golden rollback {id}` (withdraws {} and moves the floating tags back; `--to` goes back further), then build",
            last.version
        ),
    )
    .into())
}

/// Fails when the built image's env (`env`, `NAME=value` entries of the
/// image `built`) does not hold the value read before the build.
pub fn check_env(expected: &EnvExpected, built: &str, env: &[String]) -> anyhow::Result<()> {
    let now = crate::registry::env_value(env, &expected.name);
    if now.as_deref() == Some(expected.value.as_str()) {
        return Ok(());
    }
    let now = now.map_or_else(|| "nothing".to_string(), |value| format!("`{value}`"));
    Err(anyhow!(Hinted::new(
        format!(
            "the built image `{built}` sets {} to {now}, but golden read `{}` from {} before building, and labelled and tagged the build with it; nothing was pushed",
            expected.name, expected.value, expected.from
        ),
        format!(
            "set `ENV {}=<version>` with a literal value in the Dockerfile's final stage (golden reads it before building), or point `upstream_version` at a source fixed before the build (`from_tag`, `build_arg`, `label`)",
            expected.name
        ),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(version: &str, withdrawn: &[&str]) -> LastBuild {
        let digest = crate::testing::digest("b");
        LastBuild {
            version: version.parse().unwrap(),
            digest: digest.clone(),
            created: None,
            recipe: None,
            recipe_parts: None,
            reasons: None,
            base_name: None,
            base_digest: None,
            floating: Vec::new(),
            release: Some((version.parse().unwrap(), digest)),
            incomplete: None,
            withdrawn: withdrawn.iter().map(|v| v.parse().unwrap()).collect(),
            platforms: Vec::new(),
        }
    }

    #[test]
    fn a_build_of_an_older_upstream_version_than_the_newest_build_is_refused() {
        let upstream = |text: &str| text.parse::<UpstreamVersion>().unwrap();
        let newest = last("10.0.2-r1", &[]);
        let error = check_forward("aspnet", Some(&newest), upstream("10.0.1")).unwrap_err();
        let text = crate::error::text(error.as_ref());
        assert!(
            text.contains("refusing to build `aspnet`: golden builds a line forward only: upstream 10.0.1 is older than 10.0.2-r1, the line's newest build"),
            "{text}"
        );
        assert!(
            text.contains("hint: to go back, `golden rollback aspnet` (withdraws 10.0.2-r1"),
            "{text}"
        );
        // A prerelease of the newest version is older too.
        assert!(check_forward("aspnet", Some(&newest), upstream("10.0.2-rc.1")).is_err());
        // The same version (its next revision) and newer ones build.
        for ok in ["10.0.2", "10.0.3", "10.0.10"] {
            assert!(
                check_forward("aspnet", Some(&newest), upstream(ok)).is_ok(),
                "{ok}"
            );
        }
        // Nothing built, or every build withdrawn: nothing to go back from.
        assert!(check_forward("aspnet", None, upstream("10.0.1")).is_ok());
        let all_withdrawn = last("10.0.2-r1", &["10.0.2-r1"]);
        assert!(check_forward("aspnet", Some(&all_withdrawn), upstream("10.0.1")).is_ok());
        // Line versioning has no upstream version.
        assert!(check_forward("base", Some(&last("10.0.4", &[])), upstream("10.0.1")).is_ok());
    }

    #[test]
    fn a_built_env_that_differs_from_what_was_read_fails_and_names_both() {
        let expected = EnvExpected {
            name: "ASPNET_VERSION".into(),
            value: "10.0.1".into(),
            from: "the base image `r/aspnet:10.0.1-noble@sha256:1`".into(),
        };
        assert!(check_env(&expected, "x", &["ASPNET_VERSION=10.0.1".into()]).is_ok());
        let error = check_env(&expected, "x", &["ASPNET_VERSION=10.0.2".into()]).unwrap_err();
        let text = crate::error::text(error.as_ref());
        assert!(
            text.contains(
                "sets ASPNET_VERSION to `10.0.2`, but golden read `10.0.1` from the base image"
            ),
            "{text}"
        );
        assert!(
            text.contains("hint: set `ENV ASPNET_VERSION=<version>`"),
            "{text}"
        );
        let error = check_env(&expected, "x", &[]).unwrap_err();
        assert!(error.to_string().contains("to nothing"), "{error}");
    }
}
