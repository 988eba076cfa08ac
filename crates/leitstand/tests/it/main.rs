//! The `leitstand` binary as a user runs it: a real process, real HTTP on
//! loopback, SQLite and PostgreSQL, signals and exit codes.
#![allow(missing_docs, clippy::unwrap_used)]

mod admin;
mod alerting;
mod alerting_replicas;
mod audit;
mod monitoring;
mod policy;
mod readme;

mod security;
mod serve;
mod siem;
mod witness;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn leitstand() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leitstand"));
    // Run in an empty directory so no stray leitstand.toml is picked up, and
    // without inherited LEITSTAND_ variables.
    for (key, _) in std::env::vars() {
        if key.starts_with("LEITSTAND_") && key != "LEITSTAND_TEST_POSTGRES_URL" {
            cmd.env_remove(key);
        }
    }
    cmd
}

pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    leitstand().current_dir(dir).args(args).output().unwrap()
}

/// A first start of `leitstand serve ARGS` in `dir`, stopped again: the
/// installation management commands work on (they never make one).
pub fn install(dir: &Path, args: &[&str]) {
    let mut server = Server::start(dir, args);
    assert_eq!(server.terminate(), 0);
}

/// A new API token of the bootstrap admin with `scope` (`token create`).
pub fn admin_token(dir: &Path, scope: &str) -> String {
    admin_token_in(dir, &[], scope)
}

/// [`admin_token`] with the data flags (`--data-dir`, `--database-url`).
pub fn admin_token_in(dir: &Path, data: &[&str], scope: &str) -> String {
    let out = run_in(dir, &[data, &["token", "create", "--user", "admin", "--scope", scope]].concat());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("lst_"), "token create: {}", String::from_utf8_lossy(&out.stderr));
    token
}

/// A running `leitstand serve` and every line it has logged.
pub struct Server {
    pub child: Child,
    pub addr: String,
    lines: mpsc::Receiver<String>,
    pub log: Vec<String>,
}

impl Server {
    /// Starts `leitstand serve --listen 127.0.0.1:0 ARGS` in `dir` and waits
    /// for its "ready" line.
    pub fn start(dir: &Path, args: &[&str]) -> Server {
        Self::run(dir, &[&["serve", "--listen", "127.0.0.1:0"], args].concat())
    }

    /// Starts `leitstand ARGS` (a command that logs "ready" with `listen`).
    pub fn run(dir: &Path, args: &[&str]) -> Server {
        let mut child =
            leitstand().current_dir(dir).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server { child, addr: String::new(), lines: rx, log: Vec::new() };
        let ready = server.wait_for("ready");
        server.addr = ready["listen"].as_str().unwrap().to_string();
        server
    }

    /// Waits (up to 30 s) for a log event with this message.
    pub fn wait_for(&mut self, message: &str) -> serde_json::Value {
        loop {
            let line = match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => line,
                Err(_) => {
                    let _ = self.child.kill();
                    let out = self.child.wait_with_output_lossy();
                    panic!("no {message:?} log line; log so far:\n{}\nstderr:\n{out}", self.log.join("\n"));
                }
            };
            self.log.push(line.clone());
            let event: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
            if event["message"] == message {
                return event;
            }
        }
    }

    /// Takes what was logged so far into `log`, without blocking.
    pub fn drain_log(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.log.push(line);
        }
    }

    /// The log event with `message`, logged already or waited for.
    pub fn logged(&mut self, message: &str) -> serde_json::Value {
        self.drain_log();
        let needle = format!("\"message\":\"{message}\"");
        if let Some(line) = self.log.iter().rev().find(|l| l.contains(&needle)) {
            return serde_json::from_str(line).unwrap();
        }
        self.wait_for(message)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends SIGTERM and waits for exit; returns the exit code.
    pub fn terminate(&mut self) -> i32 {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        self.wait_for("stopped");
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

trait Lossy {
    fn wait_with_output_lossy(&mut self) -> String;
}

impl Lossy for Child {
    fn wait_with_output_lossy(&mut self) -> String {
        let _ = self.wait();
        let mut err = String::new();
        if let Some(mut stderr) = self.stderr.take() {
            use std::io::Read;
            let _ = stderr.read_to_string(&mut err);
        }
        err
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
