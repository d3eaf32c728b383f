//! What a BuildKit build says: the `moby.buildkit.trace` messages of its
//! stream (vertices that start, finish or fail, and their output), turned
//! into what the classic builder's lines give: the step each image is at,
//! `-v` lines, and for a failure the failing step with its last lines.
//!
//! A step's output comes in chunks that need not end on a line; it is cut
//! into lines per step and stream. Any secret value the build was given
//! is masked in every line before it is logged or kept.

use std::collections::{HashMap, HashSet, VecDeque};

use bollard::moby::buildkit::v1::StatusResponse;

use super::{strip_escapes, TAIL_LINES};
use crate::engine::EngineError;

/// What stands for a secret's value in output.
const MASK: &str = "****";
/// Shorter values are not masked: they would mask ordinary text.
const SHORTEST_MASKED: usize = 4;

/// The trace of one BuildKit build, read as it arrives.
#[derive(Default)]
pub(super) struct Trace {
    /// Each vertex's name, by digest.
    names: HashMap<String, String>,
    /// Vertices whose start was announced.
    started: HashSet<String>,
    /// Output not yet ending in a newline, by vertex and stream.
    partial: HashMap<(String, i64), String>,
    /// The last lines of each vertex.
    tails: HashMap<String, VecDeque<String>>,
    /// The vertex that failed (its digest) and its name, as the trace said.
    failed: Option<(String, String)>,
    /// The last step that started: its digest and name.
    step: Option<(String, String)>,
    /// Secret values to mask.
    secrets: Vec<String>,
}

impl Trace {
    /// A trace that masks these secret values in output: each value
    /// whole, without its line ending, and each of its lines (output is
    /// read line by line, so a file's `token\n` or a PEM key is masked
    /// line by line).
    pub(super) fn masking<'a>(secrets: impl IntoIterator<Item = &'a [u8]>) -> Trace {
        let mut masked: Vec<String> = Vec::new();
        for value in secrets {
            let text = String::from_utf8_lossy(value);
            let whole = text.trim_end_matches(['\r', '\n']);
            let lines = text.lines().map(|line| line.trim_end_matches('\r'));
            for candidate in std::iter::once(whole).chain(lines) {
                if candidate.len() >= SHORTEST_MASKED && !masked.iter().any(|m| m == candidate) {
                    masked.push(candidate.to_string());
                }
            }
        }
        // Longest first, so a value holding another is masked whole.
        masked.sort_by_key(|value| std::cmp::Reverse(value.len()));
        Trace {
            secrets: masked,
            ..Trace::default()
        }
    }

    /// Takes one trace message: steps that start go to `on_step`, lines
    /// to the `golden::build` log. A step that failed is only noted: the
    /// same message may still carry its last output, which the failure's
    /// tail takes whole.
    pub(super) fn read(&mut self, image: &str, status: &StatusResponse, on_step: &dyn Fn(&str)) {
        for vertex in &status.vertexes {
            let name = self.mask(&vertex.name);
            self.names.insert(vertex.digest.clone(), name.clone());
            if vertex.started.is_some() && self.started.insert(vertex.digest.clone()) {
                tracing::info!(target: "golden::build", image, "{name}");
                if is_step(&name) {
                    self.step = Some((vertex.digest.clone(), name.clone()));
                    on_step(&name);
                }
            }
            if !vertex.error.is_empty() && self.failed.is_none() {
                self.failed = Some((vertex.digest.clone(), name));
            }
        }
        for log in &status.logs {
            let key = (log.vertex.clone(), log.stream);
            let mut text = self.partial.remove(&key).unwrap_or_default();
            text.push_str(&String::from_utf8_lossy(&log.msg));
            let complete = match text.rfind('\n') {
                Some(end) => {
                    let rest = text.split_off(end + 1);
                    std::mem::replace(&mut text, rest)
                }
                None => String::new(),
            };
            if !text.is_empty() {
                self.partial.insert(key, text);
            }
            for line in complete.lines() {
                self.line(image, &log.vertex, line);
            }
        }
        for warning in &status.warnings {
            let text = self.mask(&String::from_utf8_lossy(&warning.short));
            tracing::warn!(target: "golden::build", image, "{text}");
        }
    }

    /// Logs what is left unterminated of every step's output, at the end
    /// of the build.
    pub(super) fn finish(&mut self, image: &str) {
        let pending: Vec<String> = self.partial.keys().map(|(v, _)| v.clone()).collect();
        for vertex in pending {
            self.flush(image, &vertex);
        }
    }

    /// The error of a failed build: the failing step (the trace's, else
    /// the last that started), `message`, and that step's last lines.
    pub(super) fn failure(&mut self, image: &str, message: &str) -> EngineError {
        self.finish(image);
        let (digest, step) = match self.failed.clone().or_else(|| self.step.clone()) {
            Some((digest, name)) => (Some(digest), Some(name)),
            None => (None, None),
        };
        let tail = digest
            .and_then(|digest| self.tails.get(&digest))
            .map(|lines| lines.iter().cloned().collect())
            .unwrap_or_default();
        EngineError::BuildFailed {
            image: image.to_string(),
            step,
            message: self.mask(message.trim()),
            tail,
        }
    }

    /// Ends what is left unterminated of `vertex`'s output as lines.
    fn flush(&mut self, image: &str, vertex: &str) {
        for stream in [1, 2] {
            if let Some(text) = self.partial.remove(&(vertex.to_string(), stream)) {
                for line in text.lines() {
                    self.line(image, vertex, line);
                }
            }
        }
    }

    fn line(&mut self, image: &str, vertex: &str, line: &str) {
        let line = self.mask(strip_escapes(line).trim_end());
        if line.is_empty() {
            return;
        }
        tracing::info!(target: "golden::build", image, "{line}");
        let tail = self.tails.entry(vertex.to_string()).or_default();
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }

    /// `text` with every secret value masked.
    fn mask(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), MASK);
            }
        }
        text
    }
}

/// Whether a vertex is a Dockerfile step (`[2/5] RUN ...`, `[build 1/3]
/// FROM ...`) rather than BuildKit's own work (`[internal] ...`,
/// `exporting to image`).
fn is_step(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('[') else {
        return false;
    };
    let Some((label, _)) = rest.split_once(']') else {
        return false;
    };
    let counter = label.rsplit(' ').next().unwrap_or(label);
    counter.split_once('/').is_some_and(|(done, total)| {
        !done.is_empty()
            && !total.is_empty()
            && done.bytes().all(|b| b.is_ascii_digit())
            && total.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::moby::buildkit::v1::{Vertex, VertexLog};
    use std::sync::Mutex;

    fn vertex(digest: &str, name: &str, started: bool, error: &str) -> Vertex {
        Vertex {
            digest: digest.to_string(),
            name: name.to_string(),
            started: started.then(Default::default),
            error: error.to_string(),
            ..Default::default()
        }
    }

    fn log(digest: &str, stream: i64, msg: &str) -> VertexLog {
        VertexLog {
            vertex: digest.to_string(),
            stream,
            msg: msg.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn steps_are_the_dockerfiles_not_buildkits_own_work() {
        assert!(is_step("[2/3] RUN make"));
        assert!(is_step(
            "[stage-0 1/2] FROM 127.0.0.1:5000/upstream/busybox:1.36"
        ));
        assert!(is_step("[build 10/12] COPY . ."));
        assert!(!is_step("[internal] load metadata for 127.0.0.1:5000/x:1"));
        assert!(!is_step("exporting to image"));
        assert!(!is_step("[x/y] RUN"));
    }

    #[test]
    fn a_failure_names_its_step_with_its_last_lines_cut_where_the_newlines_are() {
        let steps = Mutex::new(Vec::new());
        let on_step = |step: &str| steps.lock().unwrap().push(step.to_string());
        let mut trace = Trace::masking([b"s3cr3t-token".as_slice()]);
        let run = "[stage-0 2/2] RUN ./restore.sh";
        trace.read(
            "sdk",
            &StatusResponse {
                vertexes: vec![
                    vertex("sha256:a", "[internal] load remote build context", true, ""),
                    vertex("sha256:b", "[stage-0 1/2] FROM base", true, ""),
                    vertex("sha256:c", run, true, ""),
                ],
                ..Default::default()
            },
            &on_step,
        );
        let mut chunks = vec![log("sha256:c", 1, "restoring with s3cr3t-token\nfirst li")];
        chunks.push(log("sha256:c", 2, "\u{1b}[31mwarn\u{1b}[0m\n"));
        chunks.push(log("sha256:c", 1, "ne\n"));
        for index in 0..15 {
            chunks.push(log("sha256:c", 1, &format!("line {index}\n")));
        }
        chunks.push(log("sha256:c", 2, "no newline at the end"));
        chunks.push(log("sha256:b", 1, "another step's line\n"));
        trace.read(
            "sdk",
            &StatusResponse {
                logs: chunks,
                ..Default::default()
            },
            &on_step,
        );
        trace.read(
            "sdk",
            &StatusResponse {
                vertexes: vec![vertex("sha256:c", run, true, "exit code: 3")],
                ..Default::default()
            },
            &on_step,
        );
        assert_eq!(
            *steps.lock().unwrap(),
            ["[stage-0 1/2] FROM base", run],
            "each step once, in order; BuildKit's own work is not a step"
        );
        let EngineError::BuildFailed {
            step,
            message,
            tail,
            ..
        } = trace.failure(
            "sdk",
            "executor failed running: exit code: 3 (s3cr3t-token)",
        )
        else {
            panic!("a build failure");
        };
        assert_eq!(step.as_deref(), Some(run));
        assert_eq!(message, "executor failed running: exit code: 3 (****)");
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(
            tail.last().map(String::as_str),
            Some("no newline at the end")
        );
        assert!(tail.contains(&"line 14".to_string()), "{tail:?}");
        assert!(!tail.iter().any(|line| line.contains("another step")));
        let mut whole = Trace::masking([b"s3cr3t-token".as_slice()]);
        whole.read(
            "sdk",
            &StatusResponse {
                vertexes: vec![vertex("sha256:c", run, true, "")],
                logs: vec![
                    log("sha256:c", 1, "restoring with s3cr3t-token\nfirst li"),
                    log("sha256:c", 1, "ne\n"),
                ],
                ..Default::default()
            },
            &|_| {},
        );
        let EngineError::BuildFailed { tail, .. } = whole.failure("sdk", "failed") else {
            panic!("a build failure");
        };
        assert_eq!(tail, ["restoring with ****", "first line"]);
    }

    #[test]
    fn a_file_secret_and_each_line_of_a_multi_line_one_are_masked() {
        // `echo token > file` keeps a newline; a PEM key has many lines.
        let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END KEY-----\n";
        let mut trace = Trace::masking([b"nuget-token\n".as_slice(), key.as_bytes()]);
        let run = "[2/2] RUN cat /run/secrets/nuget_token /run/secrets/key";
        let output = format!("nuget-token\n{key}done\n");
        // The failing step's error and its last output in one message.
        trace.read(
            "sdk",
            &StatusResponse {
                vertexes: vec![vertex("sha256:c", run, true, "exit code: 1")],
                logs: vec![
                    log("sha256:c", 1, &output[..5]),
                    log("sha256:c", 1, &output[5..]),
                ],
                ..Default::default()
            },
            &|_| {},
        );
        let EngineError::BuildFailed { tail, .. } = trace.failure("sdk", "exit code: 1") else {
            panic!("a build failure");
        };
        assert_eq!(tail, ["****", "****", "****", "****", "done"], "{tail:?}");
    }

    #[test]
    fn without_a_failing_vertex_the_last_step_is_named() {
        let mut trace = Trace::default();
        trace.read(
            "sdk",
            &StatusResponse {
                vertexes: vec![vertex("sha256:b", "[1/2] FROM base", true, "")],
                ..Default::default()
            },
            &|_| {},
        );
        let EngineError::BuildFailed { step, tail, .. } =
            trace.failure("sdk", "failed to solve with frontend dockerfile.v0")
        else {
            panic!("a build failure");
        };
        assert_eq!(step.as_deref(), Some("[1/2] FROM base"));
        assert!(tail.is_empty());
    }
}
