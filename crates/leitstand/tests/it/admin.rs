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
    crate::install(dir.path(), &[]);
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
    let role_column = list.lines().next().unwrap().find("role").unwrap();
    assert_eq!(anna.get(role_column..role_column + 6), Some("devops"), "columns line up under their heads: {list}");

    // Issue 17, item 8: a disabled user was reported as not found.
    let out = run_in(dir.path(), &["token", "create", "--user", "anna", "--scope", "read"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("\"anna\" is disabled; `leitstand user enable anna`"), "{stderr}");

    let out = run_in(dir.path(), &["token", "create", "--user", "Anna Admin"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--user") && stderr.contains("2 to 64 characters"),
        "names the argument and the rule: {stderr}"
    );

    let out = run_in(dir.path(), &["user", "add", "x", "--role", "root"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role \"root\""));
}

#[test]
fn commands_find_the_servers_data_and_never_make_their_own() {
    // Issue 18: `serve --data-dir /srv/ls`, then `token create` in another
    // directory answered "user not found" and made a second database and
    // second audit keys there.
    let (home, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data = home.path().join("srv-ls");
    let data_arg = data.to_str().unwrap();
    crate::install(home.path(), &["--data-dir", data_arg]);
    for args in [
        vec!["token", "create", "--user", "admin"],
        vec!["audit", "key"],
        vec!["tenant", "list"],
        vec!["audit", "verify"],
    ] {
        let out = run_in(elsewhere.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(stderr.contains("./leitstand-data") && stderr.contains("--data-dir"), "{args:?}: {stderr}");
    }
    let made: Vec<_> = std::fs::read_dir(elsewhere.path()).unwrap().flatten().map(|e| e.path()).collect();
    assert!(made.is_empty(), "nothing is created where the data is not: {made:?}");
    // With the flag, or its variable, the same installation as the server's.
    let out = run_in(elsewhere.path(), &["--data-dir", data_arg, "token", "create", "--user", "admin"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = leitstand()
        .current_dir(elsewhere.path())
        .env("LEITSTAND_DATA_DIR", &data)
        .args(["audit", "key"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("localhost/leitstand-audit+"), "{out:?}");
    // A directory without a database is not an installation either.
    let empty = elsewhere.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run_in(elsewhere.path(), &["user", "list", "--data-dir", empty.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database at"), "{out:?}");
    assert!(!empty.join("leitstand.db").exists());
}

#[test]
fn incidents_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    crate::install(dir.path(), &[]);
    let out = run_in(dir.path(), &["tenant", "add", "bank-a", "--name", "Bank A"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run_in(
        dir.path(),
        &["incident", "open", "--title", "Portal nicht erreichbar", "--severity", "SEV-1", "--tenant", "bank-a"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "INC-1 opened");
    let out = run_in(dir.path(), &["incident", "list"]);
    let list = String::from_utf8_lossy(&out.stdout);
    let row = list.lines().find(|l| l.starts_with("INC-1")).unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains("SEV-1") && row.contains("open") && row.contains("Portal nicht erreichbar"), "{list}");
    let out = run_in(dir.path(), &["incident", "show", "INC-1"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("phase Erkennung") && shown.contains("Reaktion: due"), "{shown}");
    let out = run_in(dir.path(), &["incident", "open", "--title", "x", "--severity", "SEV-5"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--severity \"SEV-5\""));
    let out = run_in(dir.path(), &["incident", "show", "INC-9"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("INC-9"), "names what was not found");
    // Every step is in the audit trail, as the shell operator.
    let out = run_in(dir.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
