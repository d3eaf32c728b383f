//! Dockerfile FROM reading never panics, and pinning keeps the line count;
//! what BuildKit needs and the secrets mounted are read without a panic,
//! each at a line of the file.
#![no_main]

use std::collections::BTreeMap;

use golden_core::dockerfile::{Base, Dockerfile};
use golden_core::name::Digest;
use golden_core::reference::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let lines = text.lines().count().max(1);
    for found in golden_core::dockerfile::buildkit_uses(text) {
        assert!((1..=lines).contains(&found.line), "{found:?}");
    }
    for mount in golden_core::dockerfile::secret_mounts(text) {
        assert!((1..=lines).contains(&mount.line), "{mount:?}");
    }
    let arguments = BTreeMap::from([("TAG".to_string(), "1.0".to_string())]);
    if let Ok(dockerfile) = Dockerfile::parse(text, &arguments) {
        let stage = dockerfile.final_root().clone();
        if let Base::Image(reference) = &stage.base {
            let digest = Digest::parse(
                "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            )
            .expect("a valid digest");
            let pinned = dockerfile.pin(text, &stage, &reference.with_digest(&digest));
            assert_eq!(
                pinned.lines().count(),
                text.lines().count(),
                "pinning keeps line numbers"
            );
            let _ = Reference::parse(&reference.with_digest(&digest).to_string());
        }
    }
});
