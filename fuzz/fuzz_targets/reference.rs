//! Reference parsing never panics, and what parses prints back the same.
#![no_main]

use golden_core::reference::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(reference) = Reference::parse(text) {
        assert_eq!(reference.to_string(), text);
        let normalized = reference.normalized();
        assert_eq!(
            Reference::parse(&normalized.to_string()).as_ref(),
            Ok(&normalized)
        );
        let _ = reference.with_tag("1.0").with_digest(
            &golden_core::name::Digest::parse(
                "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            )
            .expect("a valid digest"),
        );
    }
});
