//! `golden engines`: the engines of this config (`[[engines]]`, or the one
//! engine golden would use), each probed at once: platforms, API version,
//! the builder `auto` picks there, whether it answers and its load. Exit 0 when every engine answers, 3
//! when one does not (its row says why).

use serde::Serialize;

use crate::cli::Output;
use crate::config::builders::{choose, BuilderChoice};
use crate::engine::{Builder, Engine as _};
use crate::exit::{Exit, Failure};
use crate::session::Session;

/// One engine as `golden engines` shows it.
#[derive(Debug, Serialize)]
struct EngineRow {
    name: String,
    host: String,
    /// Native platforms: configured, else what the engine reports.
    platforms: Vec<String>,
    api_version: Option<String>,
    server_version: Option<String>,
    /// The builder an image with `builder = "auto"` gets there
    /// (`buildkit` or `classic`); null when it does not answer.
    builder: Option<Builder>,
    /// Whether the engine offers BuildKit builds; null when it does not
    /// answer.
    buildkit: Option<bool>,
    reachable: bool,
    error: Option<String>,
    /// Builds at once (`jobs`, else `--jobs`).
    jobs: usize,
    containers_running: Option<i64>,
    cpus: Option<i64>,
    labels: Vec<String>,
}

pub(super) async fn run(session: &Session, jobs: usize, output: Output) -> Result<Exit, Failure> {
    let mut rows = Vec::new();
    let probed = session.probe_engines().await;
    let pooled = probed.len() > 1;
    for (planned, connection) in probed {
        let mut row = EngineRow {
            name: planned.name.clone(),
            host: planned.address.host.clone(),
            platforms: planned.platforms.iter().map(ToString::to_string).collect(),
            api_version: None,
            server_version: None,
            builder: None,
            buildkit: None,
            reachable: false,
            error: None,
            jobs: planned.jobs.unwrap_or(jobs),
            containers_running: None,
            cpus: None,
            labels: planned.labels.iter().cloned().collect(),
        };
        match connection {
            Ok(engine) => {
                row.reachable = true;
                row.api_version = Some(engine.api_version().to_string());
                let offers = engine.offers_buildkit();
                row.buildkit = Some(offers);
                row.builder = choose(BuilderChoice::Auto, None, planned.builder, offers).ok();
                if row.platforms.is_empty() {
                    row.platforms = engine.platform().iter().map(ToString::to_string).collect();
                }
                match engine.status().await {
                    Ok(status) => {
                        row.containers_running = status.containers_running;
                        row.cpus = status.cpus;
                        row.server_version = status.server_version;
                    }
                    Err(error) => row.error = Some(crate::error::text(&error)),
                }
            }
            // The engine's generic hint names `[engine] host` and
            // DOCKER_HOST, which do not choose a member of the pool.
            Err(error) if pooled => row.error = Some(error.to_string()),
            Err(error) => row.error = Some(crate::error::text(&error)),
        }
        rows.push(row);
    }
    let exit = match rows.iter().all(|row| row.reachable) {
        true => Exit::Success,
        false => Exit::Unreachable,
    };
    super::print(
        output,
        || render_text(&rows),
        || crate::ui::output::json(&serde_json::json!({ "engines": rows })),
    );
    Ok(exit)
}

fn render_text(rows: &[EngineRow]) -> String {
    let header = [
        "NAME",
        "HOST",
        "PLATFORMS",
        "API",
        "BUILDER",
        "STATE",
        "JOBS",
        "RUNNING",
        "CPUS",
        "LABELS",
    ];
    let dash = || "-".to_string();
    let table: Vec<[String; 10]> = rows
        .iter()
        .map(|row| {
            [
                row.name.clone(),
                row.host.clone(),
                match row.platforms.is_empty() {
                    true => dash(),
                    false => row.platforms.join(","),
                },
                row.api_version.clone().unwrap_or_else(dash),
                row.builder.map_or_else(dash, |builder| builder.to_string()),
                match row.reachable {
                    true => "up".to_string(),
                    false => "down".to_string(),
                },
                row.jobs.to_string(),
                row.containers_running
                    .map_or_else(dash, |count| count.to_string()),
                row.cpus.map_or_else(dash, |count| count.to_string()),
                match row.labels.is_empty() {
                    true => dash(),
                    false => row.labels.join(","),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for cells in &table {
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut text = line(header.to_vec());
    for cells in &table {
        text.push_str(&line(cells.iter().map(String::as_str).collect()));
    }
    for row in rows {
        if let Some(error) = &row.error {
            text.push_str(&format!(
                "\n{}: {}\n",
                row.name,
                error.replace('\n', "\n  ")
            ));
        }
    }
    text
}
