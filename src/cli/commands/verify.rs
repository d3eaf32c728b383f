//! `golden verify REF`: whether the build REF names (a tag or a digest) is
//! signed by `[signing] public_key_file`'s key in cosign's keyed format
//! (`sha256-<hex>.sig` beside it); 0 when a signature verifies, 1 when
//! none does, each one's reason said.

use crate::cli::Output;
use crate::exit::{Exit, Failure};
use crate::hint::Hinted;
use crate::reference::Reference;
use crate::registry::Registry;
use crate::session::Session;
use crate::signing;

pub(super) async fn run(session: &Session, text: &str, output: Output) -> Result<Exit, Failure> {
    let key = crate::keys::verifying_key(&session.project.config)?;
    let reference = Reference::parse(text).map_err(|error| {
        Failure::usage(anyhow::Error::new(Hinted::new(
            format!("`{text}` is not an image reference: {error}"),
            "name a build as HOST/PATH:TAG or HOST/PATH@sha256:...",
        )))
    })?;
    let registry = session.connect_registry(session.credentials()?).await?;
    let failed =
        |error: crate::registry::RegistryError| Failure::new(Exit::of_registry(&error), error);
    let digest = match reference.digest() {
        Some(digest) => digest.clone(),
        None => registry
            .manifest_digest(&reference)
            .await
            .map_err(failed)?
            .ok_or_else(|| {
                Failure::new(
                    Exit::ImageFailed,
                    anyhow::anyhow!("`{reference}` is not in the registry"),
                )
            })?,
    };
    let repository = reference.repository_name();
    let signatures = repository.tag(&signing::signature_tag(&digest));
    let found = match registry.manifest_bytes(&signatures).await.map_err(failed)? {
        Some(manifest) => signing::signatures_in(&manifest),
        None => Vec::new(),
    };
    let mut verdicts = Vec::new();
    for signature in &found {
        let verdict = match registry.blob(&repository, &signature.payload).await {
            Ok(payload) => signing::check(&key, &payload, &signature.signature, &digest)
                .map_err(|rejected| rejected.to_string()),
            Err(error) => Err(format!("its payload could not be read: {error}")),
        };
        verdicts.push(verdict);
    }
    let verified = verdicts.iter().any(Result::is_ok);
    let reasons: Vec<String> = verdicts.iter().filter_map(|v| v.clone().err()).collect();
    super::print(
        output,
        || match (verified, found.is_empty()) {
            (true, _) => {
                format!("{reference} ({digest}): signed by the key in [signing] public_key_file\n")
            }
            (false, true) => format!("{reference} ({digest}): not signed (no {signatures})\n"),
            (false, false) => format!(
                "{reference} ({digest}): no signature verifies:\n{}",
                reasons
                    .iter()
                    .map(|reason| format!("  - {reason}\n"))
                    .collect::<String>()
            ),
        },
        || {
            crate::ui::output::json(&serde_json::json!({
                "reference": reference.to_string(),
                "digest": digest.to_string(),
                "verified": verified,
                "signatures": found.len(),
                "rejected": reasons,
            }))
        },
    );
    Ok(if verified {
        Exit::Success
    } else {
        Exit::ImageFailed
    })
}
