//! golden.toml parsing never panics, whatever the text.
#![no_main]

use golden::diagnostic::SourceFile;
use golden::project::Project;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let source = SourceFile::new(std::path::Path::new("/nonexistent/golden.toml"), text);
    if let Err(error) = Project::from_source(source, &golden::regular_file::Disk) {
        let _ = error.to_string();
    }
});
