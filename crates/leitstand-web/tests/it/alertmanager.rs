//! Alertmanager's API v2 as its own tools use it: Debian's `amtool`
//! queries alerts with matchers and adds, lists and expires silences
//! against a running Leitstand with a bearer token; the filters see every
//! firing alert, not a first page; tenant scope holds for alerts and
//! silences alike.

use std::time::Duration;

use leitstand_app::store_test;
use leitstand_core::access::Role;
use serde_json::{Value, json};

use crate::alerting::Rig;

/// amtool against the rig's server with `token`: its exit status, stdout
/// and stderr. amtool blocks, so it runs beside the server's runtime.
async fn amtool(rig: &Rig, token: &str, args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("http.yml");
    std::fs::write(&config, format!("authorization:\n  type: Bearer\n  credentials: {token}\n")).unwrap();
    let mut command = std::process::Command::new("amtool");
    command
        .arg(format!("--alertmanager.url=http://{}", rig.app.addr))
        .arg(format!("--http.config.file={}", config.display()))
        .args(args)
        .env("HOME", dir.path());
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("amtool is installed (Debian package prometheus-alertmanager; scripts/ensure-tools)");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

async fn amtool_json(rig: &Rig, token: &str, args: &[&str]) -> Value {
    let mut all = vec!["-o", "json"];
    all.extend_from_slice(args);
    let (ok, out, err) = amtool(rig, token, &all).await;
    assert!(ok, "amtool {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("amtool {args:?} printed no JSON ({e}): {out}"))
}

/// Moves the server's clock on to the wall clock amtool reads.
fn catch_up(rig: &Rig) {
    #[allow(clippy::disallowed_methods)]
    rig.app.clock.set(jiff::Timestamp::now());
}

fn names(alerts: &Value) -> Vec<String> {
    let mut names: Vec<String> =
        alerts.as_array().unwrap().iter().map(|a| a["labels"]["alertname"].as_str().unwrap().to_string()).collect();
    names.sort();
    names
}

/// Polls `check` until it holds: the engine applies a new silence on its
/// own task (waiting for state, not for a time).
async fn eventually<F: AsyncFn() -> bool>(what: &str, check: F) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} did not happen");
}

store_test!(amtool_queries_alerts_and_adds_lists_and_expires_silences_with_a_bearer_token, |store| {
    // amtool reads the wall clock for a silence's start and for what is
    // expired; the server's clock starts at it.
    #[allow(clippy::disallowed_methods)]
    let rig = Rig::start_at(jiff::Timestamp::now(), store).await;
    let body = json!([
        { "labels": { "alertname": "HighErrorRate", "severity": "critical", "service": "shop" } },
        { "labels": { "alertname": "DiskSpaceLow", "severity": "warning", "service": "db", "instance": "db-1" } },
        { "labels": { "alertname": "DiskSpaceLow", "severity": "warning", "service": "db", "instance": "db-2" } },
    ]);
    assert_eq!(rig.post(&rig.ingest, "/api/v2/alerts", &body).await.status(), 200);

    let all = amtool_json(&rig, &rig.admin, &["alert", "query"]).await;
    assert_eq!(names(&all), ["DiskSpaceLow", "DiskSpaceLow", "HighErrorRate"]);
    let one = amtool_json(&rig, &rig.admin, &["alert", "query", "alertname=HighErrorRate"]).await;
    assert_eq!(names(&one), ["HighErrorRate"]);
    let regex = amtool_json(&rig, &rig.admin, &["alert", "query", "severity=~warn.*", "instance!=db-2"]).await;
    assert_eq!(regex[0]["labels"]["instance"], "db-1");
    assert_eq!(regex.as_array().unwrap().len(), 1, "{regex}");

    // silence add prints the new id.
    let (ok, out, err) = amtool(
        &rig,
        &rig.admin,
        &["silence", "add", "--comment=Plattentausch", "--duration=2h", "alertname=DiskSpaceLow", "instance=db-1"],
    )
    .await;
    assert!(ok, "silence add: {err}");
    catch_up(&rig);
    let id = out.trim().to_string();
    assert_eq!(id.len(), 36, "a silence id: {out}");
    let silences = amtool_json(&rig, &rig.admin, &["silence", "query"]).await;
    assert_eq!(silences.as_array().unwrap().len(), 1, "{silences}");
    assert_eq!(silences[0]["id"], id.as_str());
    assert_eq!(silences[0]["status"]["state"], "active");
    assert_eq!(silences[0]["createdBy"], "admin", "the silence names who made it");
    assert_eq!(silences[0]["comment"], "Plattentausch");
    let by_filter = amtool_json(&rig, &rig.admin, &["silence", "query", "instance=db-1"]).await;
    assert_eq!(by_filter.as_array().unwrap().len(), 1);
    let none = amtool_json(&rig, &rig.admin, &["silence", "query", "instance=db-2"]).await;
    assert_eq!(none, json!([]));

    // The engine holds the silenced alert back: amtool's default (active)
    // no longer lists it, --silenced does, naming the silence.
    eventually("the silence takes hold", async || {
        names(&amtool_json(&rig, &rig.admin, &["alert", "query", "alertname=DiskSpaceLow"]).await).len() == 1
    })
    .await;
    let silenced = amtool_json(&rig, &rig.admin, &["alert", "query", "--silenced", "instance=db-1"]).await;
    assert_eq!(silenced[0]["status"]["state"], "suppressed");
    assert_eq!(silenced[0]["status"]["silencedBy"], json!([id]));

    // A read token reads, but cannot silence.
    let reader = rig
        .app
        .state
        .app
        .create_token(
            &rig.app.state.app.cli_principal(&"admin".parse().unwrap()).await.unwrap(),
            "grafana",
            &["read".into()],
            None,
        )
        .await
        .unwrap()
        .secret;
    assert_eq!(
        names(&amtool_json(&rig, &reader, &["alert", "query", "alertname=HighErrorRate"]).await),
        ["HighErrorRate"]
    );
    let (ok, _, err) =
        amtool(&rig, &reader, &["silence", "add", "--comment=x", "--duration=1h", "alertname=HighErrorRate"]).await;
    assert!(!ok, "a read token cannot add a silence");
    assert!(err.contains("403") || err.to_lowercase().contains("forbidden"), "{err}");

    let (ok, _, err) = amtool(&rig, &rig.admin, &["silence", "expire", &id]).await;
    assert!(ok, "silence expire: {err}");
    assert_eq!(amtool_json(&rig, &rig.admin, &["silence", "query"]).await, json!([]));
    let expired = amtool_json(&rig, &rig.admin, &["silence", "query", "--expired"]).await;
    assert_eq!(expired[0]["id"], id.as_str());
    assert_eq!(expired[0]["status"]["state"], "expired");
    eventually("the alert is active again", async || {
        names(&amtool_json(&rig, &rig.admin, &["alert", "query", "alertname=DiskSpaceLow"]).await).len() == 2
    })
    .await;

    // No token: amtool is refused.
    let (ok, _, err) = amtool(&rig, "falsch", &["alert", "query"]).await;
    assert!(!ok && err.contains("401"), "{err}");
    rig.stop().await;
});

store_test!(filters_see_every_firing_alert_not_a_first_page, |store| {
    let rig = Rig::start(store).await;
    // 1,500 alerts; the one asked for is the oldest, beyond any first page.
    let mut alerts = vec![json!({
        "labels": { "alertname": "ShopDown", "severity": "critical", "service": "shop", "zone": "rz-2" },
        "startsAt": "2026-11-23T08:00:00Z"
    })];
    alerts.extend((0..1_499).map(|i| {
        json!({ "labels": { "alertname": "DiskSpaceLow", "severity": "warning", "instance": format!("db-{i}") },
                "startsAt": "2026-11-23T09:00:00Z" })
    }));
    assert_eq!(rig.post(&rig.ingest, "/api/v2/alerts", &json!(alerts)).await.status(), 200);
    let all = rig.json(&rig.admin, "/api/v2/alerts").await;
    assert_eq!(all.as_array().unwrap().len(), 1_500);
    let found = rig.json(&rig.admin, "/api/v2/alerts?filter=zone%3D%22rz-2%22").await;
    assert_eq!(names(&found), ["ShopDown"]);
    let found = rig.json(&rig.admin, "/api/v2/alerts?filter=alertname%3D~%22Shop.%2A%22").await;
    assert_eq!(names(&found), ["ShopDown"]);
    let groups = rig.json(&rig.admin, "/api/v2/alerts/groups?filter=severity%3D%22critical%22").await;
    assert_eq!(groups.as_array().unwrap().len(), 1, "{groups}");
    assert_eq!(groups[0]["receiver"]["name"], "leitstand");
    assert_eq!(groups[0]["alerts"][0]["labels"]["alertname"], "ShopDown");
    assert_eq!(rig.json(&rig.admin, "/api/v2/receivers").await, json!([{ "name": "leitstand" }]));
    assert_eq!(rig.json(&rig.admin, "/api/v2/alerts?receiver=other").await, json!([]), "no receiver of that name");
    assert_eq!(
        rig.json(&rig.admin, "/api/v2/alerts?receiver=leit.%2A&filter=zone%3D%22rz-2%22")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(rig.json(&rig.admin, "/api/v2/alerts?active=false").await, json!([]), "none is held back");

    // Bad filters are named.
    let res = rig.get(&rig.admin, "/api/v2/alerts?filter=%7Bzone").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("filter"));
    let res = rig.get(&rig.admin, "/api/v2/alerts?silenced=vielleicht").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("silenced"));
    rig.stop().await;
});

store_test!(silences_keep_to_the_tenant_scope_and_name_their_maker, |store| {
    let rig = Rig::start(store).await;
    let viewer = rig.app.user("viewer-a", Role::TenantViewer, &["bank-a"]).await;
    drop(viewer);
    let services = &rig.app.state.app;
    let viewer = services.cli_principal(&"viewer-a".parse().unwrap()).await.unwrap();
    let token = services.create_token(&viewer, "grafana", &["read".into()], None).await.unwrap().secret;
    let silence = |matchers: Value| {
        json!({ "matchers": matchers, "startsAt": "2026-11-23T10:00:00Z", "endsAt": "2026-11-23T12:00:00Z",
                "createdBy": "jemand", "comment": "Wartung" })
    };
    let alertname = json!({ "name": "alertname", "value": "ProbeDown", "isRegex": false, "isEqual": true });
    let tenant = json!({ "name": "tenant", "value": "bank-a", "isRegex": false, "isEqual": true });

    // A tenant matcher makes it the tenant's silence.
    let res = rig.post(&rig.admin, "/api/v2/silences", &silence(json!([alertname, tenant]))).await;
    assert_eq!(res.status(), 200);
    let id = res.json::<Value>().await.unwrap()["silenceID"].as_str().unwrap().to_string();
    let own = rig.json(&token, &format!("/api/v2/silence/{id}")).await;
    let matchers: Vec<String> = own["matchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{}={}", m["name"].as_str().unwrap(), m["value"].as_str().unwrap()))
        .collect();
    assert_eq!(matchers, ["alertname=ProbeDown", "tenant=bank-a"], "the tenant's matcher once");
    assert_eq!(own["createdBy"], "admin", "the caller, not what the client claims");

    // A platform-wide silence is not the tenant viewer's to see; nor may
    // the viewer silence anything.
    let res = rig.post(&rig.admin, "/api/v2/silences", &silence(json!([alertname]))).await;
    let global = res.json::<Value>().await.unwrap()["silenceID"].as_str().unwrap().to_string();
    assert_eq!(rig.json(&rig.admin, "/api/v2/silences").await.as_array().unwrap().len(), 2);
    let seen = rig.json(&token, "/api/v2/silences").await;
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen[0]["id"], id.as_str());
    assert_eq!(rig.get(&token, &format!("/api/v2/silence/{global}")).await.status(), 404);
    assert_eq!(rig.post(&token, "/api/v2/silences", &silence(json!([alertname, tenant]))).await.status(), 403);

    // Replacing by id ends the old one and names the new.
    let mut changed = silence(json!([alertname, tenant]));
    changed["id"] = json!(id);
    changed["comment"] = json!("länger");
    changed["endsAt"] = json!("2026-11-23T14:00:00Z");
    let res = rig.post(&rig.admin, "/api/v2/silences", &changed).await;
    assert_eq!(res.status(), 200);
    let new_id = res.json::<Value>().await.unwrap()["silenceID"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    assert_eq!(rig.json(&token, &format!("/api/v2/silence/{id}")).await["status"]["state"], "expired");
    assert_eq!(rig.json(&token, &format!("/api/v2/silence/{new_id}")).await["comment"], "länger");

    // A malformed silence names its field; an unknown one is not found.
    let bad = silence(json!([{ "name": "alertname", "value": "(", "isRegex": true }]));
    let res = rig.post(&rig.admin, "/api/v2/silences", &bad).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("matchers[0].value"));
    let mut unknown = silence(json!([alertname]));
    unknown["id"] = json!("0190f0c0-0000-7000-8000-000000000001");
    assert_eq!(rig.post(&rig.admin, "/api/v2/silences", &unknown).await.status(), 404);
    assert_eq!(rig.json(&rig.admin, "/api/v2/silences").await.as_array().unwrap().len(), 3, "nothing stored for it");
    rig.stop().await;
});
