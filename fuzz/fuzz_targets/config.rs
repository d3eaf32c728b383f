//! golden.toml parsing never panics, whatever the text.
#![no_main]

use golden_core::diagnostic::SourceFile;
use golden_core::project::Project;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let source = SourceFile::new(std::path::Path::new("/nonexistent/golden.toml"), text);
    if let Err(error) = Project::from_source(source, &golden_core::testing::MemoryFiles::new()) {
        let _ = error.to_string();
    }
});
