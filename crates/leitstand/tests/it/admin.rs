use std::io::Write;
use std::process::Stdio;

use crate::{Server, leitstand, run_in};

#[test]
fn first_start_prints_a_one_time_password_to_the_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    assert_eq!(server.terminate(), 0);
    let mut stderr = String::new();
    std::io::Read::read_to_string(server.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let password = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Einmalpasswort / one-time password: "))
        .unwrap_or_else(|| panic!("no password in {stderr}"))
        .to_string();
    assert_eq!(password.len(), 24);
    assert!(!server.log.join("\n").contains(&password), "never in the JSON log");
    // A second start creates nothing and prints nothing.
    let mut again = Server::start(dir.path(), &[]);
    assert_eq!(again.terminate(), 0);
    let mut stderr = String::new();
    std::io::Read::read_to_string(again.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains("one-time password"), "{stderr}");
}

#[test]
fn users_and_tokens_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = leitstand()
        .current_dir(dir.path())
        .args(["user", "add", "anna", "--role", "devops", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"korrekt Pferd Batterie\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "user anna created");

    let out = run_in(dir.path(), &["user", "add", "vera", "--role", "tenant_viewer"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a tenant viewer needs at least one tenant"));

    let out = run_in(dir.path(), &["user", "add", "bob", "--role", "auditor"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("user bob created; one-time password (change at first login, before 20"), "{stdout}");

    let out = run_in(dir.path(), &["token", "create", "--user", "anna", "--scope", "write", "--expires", "30d"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(token.starts_with("lst_") && token.trim().len() == 68 && token.lines().count() == 1, "only the token");

    let out = run_in(dir.path(), &["user", "disable", "anna"]);
    assert_eq!(out.status.code(), Some(0));
    let out = run_in(dir.path(), &["user", "list"]);
    let list = String::from_utf8_lossy(&out.stdout);
    let anna = list.lines().find(|l| l.starts_with("anna")).unwrap();
    assert!(anna.contains("devops") && anna.contains(" no "), "{list}");

    // Issue 17, item 8: a disabled user was reported as not found.
    let out = run_in(dir.path(), &["token", "create", "--user", "anna", "--scope", "read"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("\"anna\" is disabled; `leitstand user enable anna`"), "{stderr}");

    let out = run_in(dir.path(), &["user", "add", "x", "--role", "root"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role \"root\""));
}
