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
    let verdict = signing::verify(&registry, &repository, &digest, &key)
        .await
        .map_err(failed)?;
    super::print(
        output,
        || match (verdict.verified, verdict.signatures) {
            (true, _) => {
                format!("{reference} ({digest}): signed by the key in [signing] public_key_file\n")
            }
            (false, 0) => format!(
                "{reference} ({digest}): not signed (no {})\n",
                repository.tag(&signing::signature_tag(&digest))
            ),
            (false, _) => format!(
                "{reference} ({digest}): no signature verifies:\n{}",
                verdict
                    .rejected
                    .iter()
                    .map(|reason| format!("  - {reason}\n"))
                    .collect::<String>()
            ),
        },
        || {
            crate::ui::output::json(&serde_json::json!({
                "reference": reference.to_string(),
                "digest": digest.to_string(),
                "verified": verdict.verified,
                "signatures": verdict.signatures,
                "rejected": verdict.rejected,
            }))
        },
    );
    Ok(if verdict.verified {
        Exit::Success
    } else {
        Exit::ImageFailed
    })
}
