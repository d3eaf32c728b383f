//! golden's end-to-end tests: one binary (linking the library and
//! harness once instead of once per file), one module per theme. Each
//! module's `//!` says what it proves; `support` is the shared harness
//! (per-test registry namespaces, the real `golden` binary, private
//! registries and engines). Run one module with
//! `cargo test --test e2e -- MODULE::`.

mod support;

mod auth;
mod blob_cache;
mod build;
mod build_args;
mod buildkit;
mod cache;
mod check;
mod cli_conventions;
mod color;
mod config_discovery;
mod config_input;
mod context_files;
mod context_sources;
mod contrib;
mod credential_store;
mod daemon;
mod daemon_web;
mod dockerignore_cli;
mod due;
mod engine_pool;
mod engine_probe;
mod failure_output;
mod failures;
mod faults;
mod first_run;
mod github_action;
mod history;
mod hostile;
mod hostile_files;
mod hostile_inputs;
mod integrity;
mod integrity_classes;
mod integrity_race;
mod integrity_writes;
mod json_early_failure;
mod layers;
mod lock_dir;
mod matrix;
mod multi_platform;
mod multi_platform_env;
mod notify;
mod podman;
mod provenance;
mod recipe_parts;
mod registry_delete;
mod registry_faults;
mod registry_tls;
mod remote_engine;
mod report_file;
mod revision;
mod run_text;
mod runs;
mod sbom;
mod scan_gate;
mod schema;
mod shipped_configs;
mod signing;
mod ssh_engine;
mod token_auth;
mod upstream_dotnet;
mod upstream_history;
mod upstream_track;
mod upstream_versions;
mod validate;
