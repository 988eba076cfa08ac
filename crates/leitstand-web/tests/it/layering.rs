//! The web crate is an edge: it reaches storage, the ledger and the audit
//! pipeline only through `leitstand-app`'s services, and it leaves
//! authorisation to them. These checks fail when the manifest or a handler
//! goes around that door again.

use std::path::Path;

/// Crates only the service layer may name.
const BEHIND_THE_SERVICES: [&str; 3] = ["leitstand-store", "leitstand-ledger", "leitstand-audit"];

fn manifest() -> toml::Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    std::fs::read_to_string(&path).unwrap().parse().unwrap()
}

#[test]
fn the_web_crate_depends_on_no_store_ledger_or_audit_crate() {
    let manifest = manifest();
    for section in ["dependencies", "build-dependencies"] {
        let Some(deps) = manifest.get(section).and_then(|d| d.as_table()) else { continue };
        for name in BEHIND_THE_SERVICES {
            assert!(
                !deps.contains_key(name),
                "crates/leitstand-web/Cargo.toml [{section}] names {name}: the web edge goes through leitstand-app's services"
            );
        }
    }
}

#[test]
fn no_handler_checks_authorisation_itself_or_touches_the_store() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                for needle in
                    [".require(", "app.store", "audit_sink", "leitstand_store", "leitstand_ledger", "leitstand_audit"]
                {
                    if line.contains(needle) && !line.trim_start().starts_with("//") {
                        offences.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the services authorise and own the data; the edge only calls them:\n{}",
        offences.join("\n")
    );
}
