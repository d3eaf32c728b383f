//! End to end: an engine reached over `ssh://` (the engine's own
//! convention: `ssh HOST docker system dial-stdio`), through an sshd the
//! test starts on 127.0.0.1:22 with keys it makes and an ssh-agent of its
//! own. The test restores root's `~/.ssh` as it found it.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use support::{one_image_config, REGISTRY, SEED};

/// Processes the test started, and `~/.ssh` as it was, put back on drop.
struct Cleanup {
    children: Vec<Child>,
    ssh_directory: PathBuf,
    existed: bool,
    known_hosts: Option<Vec<u8>>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let known_hosts = self.ssh_directory.join("known_hosts");
        match (&self.known_hosts, self.existed) {
            (Some(content), _) => {
                let _ = std::fs::write(&known_hosts, content);
            }
            (None, true) => {
                let _ = std::fs::remove_file(&known_hosts);
            }
            (None, false) => {
                let _ = std::fs::remove_dir_all(&self.ssh_directory);
            }
        }
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(path)
        .status()
        .expect("ssh-keygen is installed (scripts/env)");
    assert!(status.success());
}

#[test]
fn an_engine_over_ssh_builds_and_pushes() {
    support::require_environment();
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    let ssh_directory = home.join(".ssh");
    let mut cleanup = Cleanup {
        children: Vec::new(),
        existed: ssh_directory.exists(),
        known_hosts: std::fs::read(ssh_directory.join("known_hosts")).ok(),
        ssh_directory,
    };
    keygen(&dir.join("host"));
    keygen(&dir.join("client"));
    std::fs::copy(dir.join("client.pub"), dir.join("authorized_keys")).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    assert!(
        std::net::TcpListener::bind("127.0.0.1:22").is_ok(),
        "this test runs an sshd on 127.0.0.1:22 (bollard's ssh takes ports from ~/.ssh/config only); something else listens there"
    );
    let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
    let sshd = Command::new("/usr/sbin/sshd")
        .args([
            "-D",
            "-e",
            "-f",
            "/dev/null",
            "-o",
            "ListenAddress=127.0.0.1",
            "-o",
            "Port=22",
        ])
        .arg("-o")
        .arg(format!("HostKey={}", dir.join("host").display()))
        .arg("-o")
        .arg(format!(
            "AuthorizedKeysFile={}",
            dir.join("authorized_keys").display()
        ))
        .args([
            "-o",
            "PermitRootLogin=prohibit-password",
            "-o",
            "PasswordAuthentication=no",
            "-o",
            "StrictModes=no",
        ])
        .arg("-o")
        .arg(format!("PidFile={}", dir.join("sshd.pid").display()))
        .stderr(log)
        .spawn()
        .expect("sshd is installed (scripts/env)");
    cleanup.children.push(sshd);
    let agent_socket = dir.join("agent.sock");
    let agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&agent_socket)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent is installed (scripts/env)");
    cleanup.children.push(agent);
    support::wait_until(
        "sshd to listen on 127.0.0.1:22 and ssh-agent to make its socket",
        std::time::Duration::from_secs(20),
        || {
            (agent_socket.exists() && std::net::TcpStream::connect("127.0.0.1:22").is_ok())
                .then_some(())
        },
    );
    let added = Command::new("ssh-add")
        .arg("-q")
        .arg(dir.join("client"))
        .env("SSH_AUTH_SOCK", &agent_socket)
        .status()
        .unwrap();
    assert!(added.success());

    let namespace = format!("e2e-ssh-engine-{}", std::process::id());
    let (_config_directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "viassh",
        &format!("FROM {SEED}\nRUN echo over ssh > /how\n"),
        "",
    );
    let golden = |engine: &str| {
        support::Golden::at(&config)
            .args(["--engine", engine, "build", "--all"])
            .env("SSH_AUTH_SOCK", &agent_socket)
            .run()
    };
    let run = golden("ssh://root@127.0.0.1");
    assert_eq!(
        run.code,
        0,
        "{}\n{}\n{}",
        run.stdout,
        run.stderr,
        std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
    );
    assert!(support::digest(&format!("{REGISTRY}/{namespace}/viassh"), "1.0.0").is_some());
    // A port in the URL is refused with where to put it.
    let port = golden("ssh://root@127.0.0.1:2222");
    assert_eq!(port.code, 3, "{}", port.stderr);
    assert!(
        port.stderr.contains("`Host 127.0.0.1` with `Port 2222`"),
        "{}",
        port.stderr
    );
    drop(cleanup);
}
