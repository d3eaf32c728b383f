//! Smoke-test containers: one per test, without network, labelled with
//! the run that started it and removed after it; and the removal of the
//! ones runs no longer alive left behind.

use std::collections::HashMap;
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptions, WaitContainerOptions,
};
use futures::StreamExt;

use super::{describe, strip_escapes, DockerEngine, TAIL_LINES};
use crate::config::SmokeTest;
use crate::engine::{
    leftover, process_start, EngineError, Leftover, RunOwner, TestContainer, SMOKE_TEST_LABEL,
};

impl DockerEngine {
    /// Force-removes the smoke-test containers that runs no longer alive
    /// left behind (a `kill -9` during the test); returns them and why.
    /// Call it holding the lock of the owner's namespace.
    pub async fn remove_leftover_tests(
        &self,
    ) -> Result<Vec<(TestContainer, Leftover)>, EngineError> {
        let Some(owner) = &self.owner else {
            return Ok(Vec::new());
        };
        let failed = |action: &str, error: BollardError| EngineError::Api {
            action: action.to_string(),
            message: describe(&error),
        };
        let filters = HashMap::from([("label", vec![SMOKE_TEST_LABEL])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let listed = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| failed("list smoke-test containers", e))?;
        let mut removed = Vec::new();
        for summary in listed {
            let container = TestContainer {
                id: summary.id.unwrap_or_default(),
                labels: summary.labels.unwrap_or_default().into_iter().collect(),
            };
            let Some(why) = leftover(&container, owner, &process_start) else {
                continue;
            };
            let removal = RemoveContainerOptionsBuilder::new()
                .force(true)
                .v(true)
                .build();
            match self
                .docker
                .remove_container(&container.id, Some(removal))
                .await
            {
                Ok(()) => removed.push((container, why)),
                // Gone already: another run removed it first.
                Err(BollardError::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(error) => {
                    let action =
                        format!("remove the smoke-test container `{}`", container.short_id());
                    return Err(failed(&action, error));
                }
            }
        }
        Ok(removed)
    }

    /// Runs `test` in a new container of `image`, without network, and
    /// removes the container; a failure says how it ended and what it wrote.
    pub(super) async fn smoke_test(
        &self,
        image: &str,
        test: &SmokeTest,
    ) -> Result<(), EngineError> {
        // Shell-quoted, so the message can be pasted into a shell.
        let command = shlex::try_join(test.command.iter().map(String::as_str))
            .unwrap_or_else(|_| format!("{:?}", test.command));
        let failed = |outcome: String, output: Vec<String>| EngineError::TestFailed {
            image: image.to_string(),
            command: command.clone(),
            outcome,
            output,
        };
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(test.command.clone()),
            network_disabled: Some(true),
            labels: Some(self.test_labels(image)),
            host_config: Some(HostConfig {
                network_mode: Some("none".to_string()),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        let created = self
            .docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(|e| failed(format!("could not start: {}", describe(&e)), Vec::new()))?;
        let id = created.id;
        let result = self.run_test_container(&id, test.timeout).await;
        let output = self.container_output(&id).await;
        let removal = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        if let Err(error) = self.docker.remove_container(&id, Some(removal)).await {
            tracing::warn!(container = %id, "could not remove the smoke-test container: {}", describe(&error));
        }
        result.map_err(|outcome| failed(outcome, output))
    }

    /// The labels of a smoke-test container of `image`.
    fn test_labels(&self, image: &str) -> HashMap<String, String> {
        let mut labels: HashMap<String, String> =
            self.owner.iter().flat_map(RunOwner::labels).collect();
        labels.insert(SMOKE_TEST_LABEL.to_string(), image.to_string());
        labels
    }

    /// Starts the container and waits for it; `Err` says how it failed.
    async fn run_test_container(&self, id: &str, timeout: Duration) -> Result<(), String> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| format!("could not start: {}", describe(&e)))?;
        let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions>);
        match tokio::time::timeout(timeout, wait.next()).await {
            Err(_) => {
                let _ = self
                    .docker
                    .kill_container(id, None::<KillContainerOptions>)
                    .await;
                Err(format!("timed out after {}s", timeout.as_secs()))
            }
            Ok(Some(Ok(response))) if response.status_code == 0 => Ok(()),
            Ok(Some(Ok(response))) => Err(format!("exited with code {}", response.status_code)),
            Ok(Some(Err(BollardError::DockerContainerWaitError { code, .. }))) => {
                Err(format!("exited with code {code}"))
            }
            Ok(Some(Err(error))) => Err(format!("could not be waited for: {}", describe(&error))),
            Ok(None) => Err("ended without an exit code".to_string()),
        }
    }

    /// The last lines the container wrote, for the error of a failed test.
    async fn container_output(&self, id: &str) -> Vec<String> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&TAIL_LINES.to_string())
            .build();
        let mut logs = self.docker.logs(id, Some(options));
        let mut lines = Vec::new();
        while let Some(Ok(chunk)) = logs.next().await {
            let text = strip_escapes(&String::from_utf8_lossy(&chunk.into_bytes()));
            lines.extend(
                text.lines()
                    .map(|line| line.trim_end().to_string())
                    .filter(|l| !l.is_empty()),
            );
        }
        let skip = lines.len().saturating_sub(TAIL_LINES);
        lines.split_off(skip)
    }
}
