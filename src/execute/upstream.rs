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
    let version = read_version(source, found.as_deref(), image.version)
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

/// Whether the floating tag `X.Y.Z` a build of `upstream` would move may
/// move: absent, or on a golden build of that upstream version (its
/// version label an `X.Y.Z-rN` whose exact tag holds the same manifest).
/// Anything else there (an exact tag of the counter scheme, `10.0.1`, left
/// by a line that switched to upstream versioning; an image pushed by
/// hand) is refused before building, with the ways out.
pub async fn check_switch(
    registry: &dyn Registry,
    image: &Image,
    repository: &Repository,
    upstream: UpstreamVersion,
) -> anyhow::Result<()> {
    if !Floating::allowed(&upstream.revision(1), image.floating.as_deref())
        .contains(&Floating::Upstream)
    {
        return Ok(());
    }
    let floating = repository.tag(&upstream.tag());
    let failed = || format!("failed to read `{floating}` before building `{}`", image.id);
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
    Err(Hinted::new(
        format!(
            "refusing to build `{}` under upstream versioning: `{floating}` ({digest}) is {what}, and this build would move it as the floating tag of upstream {upstream}; exact tags are never moved",
            image.id
        ),
        format!(
            "delete `{floating}` from the registry after checking nothing uses it (an application pinned to it would change image), or keep `versioning = \"line\"` for this line, or give the image a new `name` so upstream versioning starts in a new repository"
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
