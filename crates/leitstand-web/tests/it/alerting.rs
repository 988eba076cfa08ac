//! Alerting over HTTP with the engine running: Prometheus-style ingest
//! with a token that may only send, refused payloads named by path, tenant
//! scope, acknowledging through the API, the pages and a signed link,
//! silences, schedules with their calendar, channel tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use leitstand_alerting::link::{LinkAction, LinkClaims, LinkKey};
use leitstand_alerting::oncall::{RotationDef, ScheduleDef, validate};
use leitstand_app::alerting::runtime::{self, Runtime};
use leitstand_app::alerting::{Alerting, AlertingSettings, AudienceRoute, ChannelDef, Person};
use leitstand_app::store_test;
use leitstand_core::access::Role;
use leitstand_core::policy::{Audience, ChannelKind, MaintenanceWindow};
use serde_json::{Value, json};

use crate::{App, csrf_of};

const NOW: &str = "2026-11-23T10:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

/// A webhook receiver on loopback that answers `status`.
async fn receiver(status: u16) -> String {
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(move || async move { axum::http::StatusCode::from_u16(status).unwrap() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

/// Alerting with a webhook channel for every audience, a schedule with two
/// people taking weekly turns from a week ago, and a Sunday maintenance window.
fn settings(hook: &str) -> AlertingSettings {
    leitstand_app::install_crypto_provider();
    let config: leitstand_notify::channels::ChannelConfig =
        serde_json::from_value(json!({ "kind": "webhook", "url": hook, "timeout": "2s" })).unwrap();
    let channel = leitstand_notify::channels::Channel::from_config("ops-hook", &config).unwrap();
    let mut audiences = BTreeMap::new();
    for a in [Audience::Devops, Audience::OnCall] {
        audiences.insert(a, AudienceRoute { channels: vec!["ops-hook".into()], schedule: None });
    }
    let people: BTreeMap<String, Person> = [
        ("anna".to_string(), Person { name: "Anna Arendt".into(), ..Person::default() }),
        ("ben".to_string(), Person { name: "Ben Berger".into(), ..Person::default() }),
    ]
    .into();
    let def = ScheduleDef {
        id: "plattform".into(),
        name: "Plattform-Team".into(),
        time_zone: "Europe/Berlin".into(),
        rotations: vec![RotationDef {
            name: "Woche".into(),
            participants: vec!["anna".into(), "ben".into()],
            start: "2026-11-16T09:00".parse().unwrap(),
            length: "7d".parse().unwrap(),
            restrict: None,
        }],
    };
    let schedule = validate(&def, &|p| people.contains_key(p)).unwrap();
    let mut settings = AlertingSettings {
        channels: vec![ChannelDef {
            id: leitstand_app::alerting::ChannelId::parse("ops-hook").unwrap(),
            name: "Ops-Webhook".into(),
            channel,
            kind: ChannelKind::Webhook,
            locale: leitstand_notify::Locale::De,
            fallback: None,
        }],
        audiences,
        schedules: vec![schedule],
        people,
        ..AlertingSettings::default()
    };
    settings.policy.base.maintenance.windows = vec![MaintenanceWindow {
        name: "Patch-Sonntag".into(),
        start: "0 2 * * 0".into(),
        duration: "2h".parse().unwrap(),
        time_zone: None,
        services: vec!["portal".into()],
    }];
    settings
}

pub(crate) struct Rig {
    pub app: App,
    runtime: Runtime,
    /// Scope `ingest` only.
    pub ingest: String,
    /// The admin's read and write token.
    pub admin: String,
    /// The admin's session cookie.
    cookie: String,
}

impl Rig {
    pub async fn start(store: &leitstand_app::Store) -> Rig {
        Self::start_at(NOW.parse().unwrap(), store).await
    }

    /// A rig whose clock starts at `start`.
    pub async fn start_at(start: jiff::Timestamp, store: &leitstand_app::Store) -> Rig {
        let hook = receiver(204).await;
        let configure = |services: &mut leitstand_app::App| {
            services.alerting =
                Arc::new(Alerting::new(settings(&hook), LinkKey::new([7; 32]), "https://leitstand.example".into()));
        };
        let app = crate::spawn_app_at(start, store.clone(), configure, |_| {}).await;
        let cookie = app.user("admin", Role::Admin, &[]).await;
        let services = &app.state.app;
        let admin = services.cli_principal(&"admin".parse().unwrap()).await.unwrap();
        services.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
        services.create_tenant(&admin, "bank-b", "Bank B").await.unwrap();
        let ingest = services.create_token(&admin, "prometheus", &["ingest".into()], None).await.unwrap().secret;
        let token = services.create_token(&admin, "ops", &["read".into(), "write".into()], None).await.unwrap().secret;
        let runtime = runtime::spawn(services.clone(), "test".into());
        // Waiting for the engine to take the lease (not for timing logic):
        // before that, alerts go to the inbox and appear only later.
        for _ in 0..500 {
            if services.alerting.is_active() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(services.alerting.is_active(), "the alert engine runs");
        Rig { app, runtime, ingest, admin: token, cookie }
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.app.client.post(self.app.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.app.client.get(self.app.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn json(&self, token: &str, path: &str) -> Value {
        let res = self.get(token, path).await;
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// Posts an alert as Prometheus does; its id.
    pub async fn fire(&self, labels: Value) -> String {
        let name = labels["alertname"].as_str().unwrap().to_string();
        let body = json!([{ "labels": labels, "annotations": { "summary": format!("{name} ist passiert") } }]);
        let res = self.post(&self.ingest, "/api/v2/alerts", &body).await;
        assert_eq!(res.status(), 200);
        let list = self.json(&self.admin, "/api/v1/alerts").await;
        list.as_array().unwrap().iter().find(|a| a["alertname"] == name).unwrap()["id"].as_str().unwrap().to_string()
    }

    pub async fn stop(self) {
        self.runtime.shutdown().await;
    }
}

store_test!(prometheus_sends_with_an_ingest_token_and_the_alert_is_listed, |store| {
    let rig = Rig::start(store).await;
    let body = json!([{
        "labels": { "alertname": "ProbeDown", "severity": "critical", "service": "portal", "instance": "web-1" },
        "annotations": { "summary": "Portal antwortet nicht" },
        "startsAt": "2026-11-23T09:58:00Z",
        "generatorURL": "http://prometheus:9090/graph"
    }]);
    let res = rig.post(&rig.ingest, "/api/v2/alerts", &body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "", "an empty body, like Alertmanager");

    let res = rig.get(&rig.ingest, "/api/v1/alerts").await;
    assert_eq!(res.status(), 403, "an ingest token can only send");
    assert_eq!(rig.get(&rig.ingest, "/api/v2/alerts").await.status(), 403);

    let list = rig.json(&rig.admin, "/api/v1/alerts").await;
    let alerts = list.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{list}");
    let a = &alerts[0];
    assert_eq!(a["alertname"], "ProbeDown");
    assert_eq!(a["status"], "firing");
    assert_eq!(a["level"], 2, "critical starts at level 2");
    assert_eq!(a["level_name"], "Kritisch");
    assert_eq!(a["summary"], "Portal antwortet nicht");
    assert_eq!(a["source"], "api");
    assert_eq!(a["starts_at"], "2026-11-23T09:58:00Z");

    // amtool's view: the same alert with Alertmanager's fingerprint.
    let v2 = rig.json(&rig.admin, "/api/v2/alerts").await;
    assert_eq!(v2[0]["fingerprint"], a["fingerprint"]);
    assert_eq!(v2[0]["status"]["state"], "active");
    assert_eq!(v2[0]["receivers"][0]["name"], "leitstand");
    let filtered = rig.json(&rig.admin, "/api/v2/alerts?filter=alertname%3D%22Other%22").await;
    assert_eq!(filtered, json!([]));
    let status = rig.json(&rig.admin, "/api/v2/status").await;
    assert_eq!(status["cluster"]["status"], "disabled");
    assert_eq!(status["versionInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["uptime"], NOW, "when the process started");

    // An end in the past: resolved.
    let mut resolved = body.clone();
    resolved[0]["endsAt"] = json!("2026-11-23T09:59:00Z");
    assert_eq!(rig.post(&rig.ingest, "/api/v2/alerts", &resolved).await.status(), 200);
    let list = rig.json(&rig.admin, "/api/v1/alerts?status=resolved").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(rig.json(&rig.admin, "/api/v2/alerts").await, json!([]), "only firing alerts");

    // The page lists it, with its state in words.
    let (status, html) = rig.app.page(&rig.cookie, "/alerts?status=resolved").await;
    assert_eq!(status, 200);
    assert!(html.contains("ProbeDown") && html.contains("behoben"), "{html}");
    assert!(html.contains("href=\"/alerts\" aria-current=\"page\""), "the navigation marks the page");
    rig.stop().await;
});

store_test!(a_malformed_payload_is_refused_with_its_path_and_nothing_is_stored, |store| {
    let rig = Rig::start(store).await;
    let body = json!([
        { "labels": { "alertname": "Fine" } },
        { "labels": { "alertname": "X", "bad-name": "y" } }
    ]);
    let res = rig.post(&rig.ingest, "/api/v2/alerts", &body).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.starts_with("[1].labels: "), "{detail}");
    assert!(detail.contains("bad-name"), "{detail}");

    let res = rig
        .app
        .client
        .post(rig.app.url("/api/v2/alerts"))
        .bearer_auth(&rig.ingest)
        .body("[{\"labels\": {\"alertname\": \"A\"}, \"startsAt\": \"gestern\"}]")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let detail = res.json::<Value>().await.unwrap()["detail"].as_str().unwrap().to_string();
    assert!(detail.starts_with("[0].startsAt: "), "{detail}");

    let body = json!([{ "labels": { "alertname": "A", "tenant": "bank-z" } }]);
    let res = rig.post(&rig.ingest, "/api/v2/alerts", &body).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("unknown tenant"));

    assert_eq!(rig.json(&rig.admin, "/api/v1/alerts").await, json!([]), "nothing of a refused batch is stored");

    // The webhook receiver checks the payload version first.
    let res = rig.post(&rig.ingest, "/api/v1/alerts/alertmanager", &json!({ "version": "3", "alerts": [] })).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("version"));
    rig.stop().await;
});

store_test!(an_alertmanager_webhook_fires_and_resolves, |store| {
    let rig = Rig::start(store).await;
    let alert = |status: &str| {
        json!({
            "version": "4", "receiver": "leitstand", "status": status, "groupKey": "{}:{}",
            "alerts": [{
                "status": status,
                "labels": { "alertname": "DiskFull", "severity": "warning", "tenant": "bank-a" },
                "annotations": { "summary": "Platte voll" },
                "startsAt": "2026-11-23T09:00:00Z",
                "endsAt": if status == "resolved" { "2026-11-23T09:30:00Z" } else { "0001-01-01T00:00:00Z" }
            }]
        })
    };
    let res = rig.post(&rig.ingest, "/api/v1/alerts/alertmanager", &alert("firing")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["accepted"], 1);
    let list = rig.json(&rig.admin, "/api/v1/alerts").await;
    assert_eq!((list[0]["status"].as_str(), list[0]["tenant"].as_str()), (Some("firing"), Some("bank-a")));
    assert_eq!(list[0]["source"], "webhook");
    assert_eq!(rig.post(&rig.ingest, "/api/v1/alerts/alertmanager", &alert("resolved")).await.status(), 200);
    let list = rig.json(&rig.admin, "/api/v1/alerts").await;
    assert_eq!(list[0]["status"], "resolved");
    rig.stop().await;
});

store_test!(a_tenant_viewer_sees_only_its_tenants_alerts, |store| {
    let rig = Rig::start(store).await;
    let a = rig.fire(json!({ "alertname": "SlowA", "severity": "warning", "tenant": "bank-a" })).await;
    let b = rig.fire(json!({ "alertname": "SlowB", "severity": "warning", "tenant": "bank-b" })).await;
    let platform = rig.fire(json!({ "alertname": "HostDown", "severity": "critical" })).await;
    let cookie = rig.app.user("viewer", Role::TenantViewer, &["bank-a"]).await;
    let services = &rig.app.state.app;
    let viewer = services.cli_principal(&"viewer".parse().unwrap()).await.unwrap();
    let token = services.create_token(&viewer, "t", &["read".into()], None).await.unwrap().secret;

    let list = rig.json(&token, "/api/v1/alerts").await;
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|a| a["alertname"].as_str().unwrap()).collect();
    assert_eq!(names, ["SlowA"]);
    assert_eq!(rig.get(&token, &format!("/api/v1/alerts/{a}")).await.status(), 200);
    assert_eq!(rig.get(&token, &format!("/api/v1/alerts/{b}")).await.status(), 404);
    assert_eq!(rig.get(&token, &format!("/api/v1/alerts/{platform}")).await.status(), 404);
    let v2 = rig.json(&token, "/api/v2/alerts").await;
    assert_eq!(v2.as_array().unwrap().len(), 1);
    assert_eq!(rig.json(&token, "/api/v1/alerts?tenant=bank-b").await, json!([]));

    let (status, html) = rig.app.page(&cookie, "/alerts").await;
    assert_eq!(status, 200);
    assert!(html.contains("SlowA") && !html.contains("SlowB") && !html.contains("HostDown"));
    let (status, html) = rig.app.page(&cookie, &format!("/alerts/{a}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("value=\"ack\""), "a viewer gets no buttons");
    let (status, _) = rig.app.page(&cookie, &format!("/alerts/{b}")).await;
    assert_eq!(status, 404);
    rig.stop().await;
});

store_test!(the_overview_shows_every_open_alert_by_severity_and_who_is_on_call, |store| {
    // Issue 18: the overview listed only the embedded rules' alerts and
    // said "no alerts" while Prometheus alerts were firing.
    let rig = Rig::start(store).await;
    let (_, html) = rig.app.page(&rig.cookie, "/").await;
    assert!(html.contains("Keine ausgelösten Alarme"), "{html}");
    let disk = rig.fire(json!({ "alertname": "DiskSpaceLow", "severity": "warning", "instance": "db-1" })).await;
    let errors = rig.fire(json!({ "alertname": "HighErrorRate", "severity": "critical", "tenant": "bank-a" })).await;
    let (status, html) = rig.app.page(&rig.cookie, "/").await;
    assert_eq!(status, 200);
    assert!(!html.contains("Keine ausgelösten Alarme"), "{html}");
    let critical = html.find("Kritisch: 1").expect("a heading per severity with its count");
    let warning = html.find("Warnung: 1").unwrap();
    assert!(critical < warning, "the most severe first");
    assert!(html.contains(&format!("href=\"/alerts/{errors}\"")) && html.contains(&format!("href=\"/alerts/{disk}\"")));
    assert!(html.contains("HighErrorRate ist passiert") && html.contains("Mandant: bank-a"), "{html}");
    assert!(html.contains("seit 2026-11-23 11:00 CET"), "times in the platform zone: {html}");
    // Weekly turns from Monday 16 November, 09:00: Ben since this morning.
    assert!(html.contains("Plattform-Team: Ben Berger bis 2026-11-30 09:00 CET"), "{html}");
    assert!(!html.contains("Incidents"), "nothing promised that does not exist");

    // A tenant viewer sees only its tenant's alerts and no platform alert.
    let viewer = rig.app.user("viewer-b", Role::TenantViewer, &["bank-b"]).await;
    let (_, html) = rig.app.page(&viewer, "/").await;
    assert!(!html.contains("HighErrorRate") && !html.contains("DiskSpaceLow"), "{html}");
    rig.stop().await;
});

store_test!(acknowledging_through_the_api_and_the_page, |store| {
    let rig = Rig::start(store).await;
    let id = rig.fire(json!({ "alertname": "ProbeDown", "severity": "critical", "service": "portal" })).await;
    // Level 2 (Kritisch): act within 15 minutes, escalate unacknowledged
    // after 15 minutes.
    let detail = rig.json(&rig.admin, &format!("/api/v1/alerts/{id}")).await;
    assert_eq!(detail["act_by"], "2026-11-23T10:15:00Z", "{detail:#}");
    assert_eq!(detail["next_step_at"], "2026-11-23T10:15:00Z");
    let (_, html) = rig.app.page(&rig.cookie, &format!("/alerts/{id}")).await;
    assert!(html.contains("Handeln bis") && html.contains("2026-11-23 11:15 CET"), "{html}");

    let res = rig.post(&rig.admin, &format!("/api/v1/alerts/{id}/ack"), &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "alert": id, "action": "ack", "done": true }));
    let detail = rig.json(&rig.admin, &format!("/api/v1/alerts/{id}")).await;
    let by = detail["acknowledged_by"].as_str().unwrap();
    assert_eq!(by, "admin", "the person, not their token's id");
    assert!(detail["act_by"].is_null() && detail["next_step_at"].is_null(), "someone is on it: {detail}");
    let kinds: Vec<&str> = detail["history"].as_array().unwrap().iter().map(|h| h["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"firing") && kinds.contains(&"acknowledged"), "{kinds:?}");
    let res = rig.post(&rig.admin, &format!("/api/v1/alerts/{id}/ack"), &json!({})).await;
    assert_eq!(res.status(), 409, "already acknowledged: a conflict with the alert's state");
    assert!(res.text().await.unwrap().contains("not possible: the alert is already acknowledged"));

    let res = rig.post(&rig.admin, &format!("/api/v1/alerts/{id}/notes"), &json!({ "text": "Neustart läuft" })).await;
    assert_eq!(res.status(), 200);
    let res = rig.post(&rig.admin, &format!("/api/v1/alerts/{id}/notes"), &json!({ "text": " " })).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["detail"], "text: a note has 1 to 4000 characters");
    let res = rig.post(&rig.admin, "/api/v1/alerts/kein-alarm/ack", &json!({})).await;
    assert_eq!(res.status(), 404);

    // The page: state in words, take the acknowledgement back, resolve.
    let (status, html) = rig.app.page(&rig.cookie, &format!("/alerts/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Bestätigung zurücknehmen") && html.contains("Neustart läuft"), "{html}");
    assert!(html.contains("von admin um "), "who acknowledged, by name only");
    assert!(html.contains("href=\"/alerts\" aria-current=\"true\""), "the section is marked");
    let post = |op: &'static str, csrf: String| {
        rig.app
            .client
            .post(rig.app.url(&format!("/alerts/{id}")))
            .header("cookie", &rig.cookie)
            .form(&[("csrf", csrf), ("op", op.to_string()), ("text", String::new())])
            .send()
    };
    let res = post("unack", csrf_of(&html)).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("/alerts/{id}?done=unack"));
    let res = post("note", csrf_of(&html)).await.unwrap();
    assert_eq!(res.status(), 422, "an empty note");
    let text = res.text().await.unwrap();
    assert!(
        text.contains("href=\"#note-text\"") && text.contains("aria-invalid=\"true\""),
        "error linked to the field"
    );
    assert_eq!(post("resolve", "0".repeat(64)).await.unwrap().status(), 403, "the CSRF token is checked");
    assert_eq!(post("resolve", csrf_of(&html)).await.unwrap().status(), 303);
    let (_, html) = rig.app.page(&rig.cookie, &format!("/alerts/{id}?done=resolve")).await;
    assert!(html.contains("Der Alarm ist als behoben markiert.") && !html.contains("value=\"resolve\""));
    let detail = rig.json(&rig.admin, &format!("/api/v1/alerts/{id}")).await;
    assert_eq!(detail["status"], "resolved");
    assert!(detail["acknowledged_by"].is_null());

    // Notifications with their attempts went to the webhook.
    let notifications = detail["notifications"].as_array().unwrap();
    assert!(!notifications.is_empty(), "{detail}");
    assert_eq!(notifications[0]["channel"], "ops-hook");
    rig.stop().await;
});

store_test!(silences_are_created_listed_and_expired, |store| {
    let rig = Rig::start(store).await;
    let body = json!({
        "matchers": ["alertname=\"ProbeDown\"", "service=~\"portal|shop\""],
        "ends_at": "2026-11-23T12:00:00Z",
        "comment": "Umzug des Rechenzentrums",
        "tenant": "bank-a"
    });
    let res = rig.post(&rig.admin, "/api/v1/silences", &body).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let list = rig.json(&rig.admin, "/api/v1/silences").await;
    assert_eq!(list[0]["state"], "active");
    assert_eq!(list[0]["tenant"], "bank-a");
    assert!(list[0]["matchers"].as_array().unwrap().contains(&json!("tenant=\"bank-a\"")), "{list}");

    let wrong = json!({ "matchers": ["alertname=~\".*\""], "ends_at": "2026-11-22T12:00:00Z", "comment": "" });
    let res = rig.post(&rig.admin, "/api/v1/silences", &wrong).await;
    assert_eq!(res.status(), 422);
    let detail = res.json::<Value>().await.unwrap()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("matchers") && detail.contains("ends_at: in the past") && detail.contains("comment"),
        "{detail}"
    );
    let res = rig.post(&rig.admin, "/api/v1/silences", &json!({ "matchers": [] })).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["content-type"], "application/problem+json");

    // Issue 17: Alertmanager's matcher objects (amtool sends those) are
    // taken too, and a wrong shape is explained.
    let objects = json!({
        "matchers": [
            { "name": "alertname", "value": "DiskWarning", "isRegex": false },
            { "name": "instance", "value": "web-.*", "isRegex": true, "isEqual": false }
        ],
        "ends_at": "2026-11-23T12:00:00Z",
        "comment": "Festplatte wird getauscht"
    });
    assert_eq!(rig.post(&rig.admin, "/api/v1/silences", &objects).await.status(), 201);
    let list = rig.json(&rig.admin, "/api/v1/silences").await;
    let made = list.as_array().unwrap().iter().find(|s| s["comment"] == "Festplatte wird getauscht").unwrap();
    assert_eq!(made["matchers"], json!(["alertname=\"DiskWarning\"", "instance!~\"web-.*\""]), "{made}");
    let odd = json!({ "matchers": [{ "label": "alertname" }], "ends_at": "2026-11-23T12:00:00Z", "comment": "x" });
    let res = rig.post(&rig.admin, "/api/v1/silences", &odd).await;
    assert_eq!(res.status(), 422);
    let detail = res.json::<Value>().await.unwrap()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("alertname=\"DiskWarning\"") && detail.contains("isRegex"), "{detail}");

    let res = rig.app.client.delete(rig.app.url(&format!("/api/v1/silences/{id}"))).bearer_auth(&rig.admin).send();
    assert_eq!(res.await.unwrap().status(), 204);
    let list = rig.json(&rig.admin, "/api/v1/silences").await;
    let expired = list.as_array().unwrap().iter().find(|s| s["id"] == id.as_str()).unwrap();
    assert_eq!(expired["state"], "expired");

    // Through the page: a duration, and errors linked to their fields.
    let (status, html) = rig.app.page(&rig.cookie, "/alerts/silences").await;
    assert_eq!(status, 200);
    assert!(html.contains("Patch-Sonntag") && html.contains("2026-11-29 02:00 CET"), "the next maintenance window");
    let csrf = csrf_of(&html);
    let form = |matchers: &str, duration: &str, comment: &str| {
        let fields = [("csrf", csrf.as_str()), ("matchers", matchers), ("duration", duration), ("comment", comment)];
        rig.app.client.post(rig.app.url("/alerts/silences")).header("cookie", &rig.cookie).form(&fields).send()
    };
    let res = form("alertname=\"DiskFull\"\nservice=\"db\"", "2h", "Wartung").await.unwrap();
    assert_eq!(res.status(), 303);
    let (_, html) = rig.app.page(&rig.cookie, "/alerts/silences?done=created").await;
    assert!(
        html.contains("Die Stummschaltung ist angelegt.") && html.contains("alertname=&#34;DiskFull&#34;"),
        "{html}"
    );
    assert!(html.contains("2026-11-23 13:00 CET"), "ends two hours from now, in Berlin time");
    let res = form("", "zwei Stunden", "x").await.unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("href=\"#s-duration\""), "{html}");
    let res = form("alertname=~\".*\"", "1h", "").await.unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("href=\"#s-matchers\"") && html.contains("href=\"#s-comment\""), "{html}");
    rig.stop().await;
});

store_test!(a_signed_link_shows_a_button_and_acknowledges_on_post, |store| {
    let rig = Rig::start(store).await;
    let target = "https://portal.example.de/health";
    let id = rig.fire(json!({ "alertname": "ProbeDown", "severity": "critical", "instance": target })).await;
    let key = &rig.app.state.app.alerting.link_key;
    let claims = |action, expires_at| LinkClaims { alert: id.parse().unwrap(), action, expires_at };
    let token = key.sign(&claims(LinkAction::Ack, now() + SignedDuration::from_hours(1)));
    let path = format!("/alerts/act/{token}");

    // A GET (a mail scanner) changes nothing.
    let res = rig.app.client.get(rig.app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "no session needed");
    let html = res.text().await.unwrap();
    assert!(html.contains("ProbeDown") && html.contains("<button type=\"submit\">Bestätigen</button>"), "{html}");
    // Issue 17, item 3: the page says what is down.
    assert!(html.contains("ProbeDown ist passiert") && html.contains(target), "summary and target: {html}");
    let detail = rig.json(&rig.admin, &format!("/api/v1/alerts/{id}")).await;
    assert!(detail["acknowledged_by"].is_null());

    let res = rig.app.client.post(rig.app.url(&path)).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(res.status(), 403, "a cross-site POST is refused");
    let res = rig.app.client.post(rig.app.url(&path)).header("sec-fetch-site", "same-origin").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Der Alarm ist bestätigt."));
    let detail = rig.json(&rig.admin, &format!("/api/v1/alerts/{id}")).await;
    assert_eq!(detail["acknowledged_by"], "signed link");
    // Issue 17, item 8: the refusal is said in one language, the reader's.
    let res = rig.app.client.post(rig.app.url(&path)).header("sec-fetch-site", "same-origin").send().await.unwrap();
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Nicht möglich: Der Alarm ist bereits bestätigt.") && !html.contains("not possible"),
        "{html}"
    );
    let res = rig
        .app
        .client
        .post(rig.app.url(&path))
        .header("sec-fetch-site", "same-origin")
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("Not possible: The alert is already acknowledged."));

    // Expired or altered: 400, saying only that.
    let expired = key.sign(&claims(LinkAction::Resolve, now() - SignedDuration::from_secs(1)));
    let res = rig.app.client.get(rig.app.url(&format!("/alerts/act/{expired}"))).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("ungültig oder abgelaufen") && !html.contains("ProbeDown") && !html.contains("expired at"));
    let res = rig.app.client.post(rig.app.url(&format!("/alerts/act/{expired}"))).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let foreign = LinkKey::new([8; 32]).sign(&claims(LinkAction::Resolve, now() + SignedDuration::from_hours(1)));
    let res = rig
        .app
        .client
        .get(rig.app.url(&format!("/alerts/act/{foreign}")))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("This link is invalid or has expired."));
    let detail = rig.json(&rig.admin, &format!("/api/v1/alerts/{id}")).await;
    assert_eq!(detail["status"], "firing", "no link resolved it");
    rig.stop().await;
});

store_test!(calendar_apps_subscribe_with_a_token_in_the_url_that_can_do_nothing_else, |store| {
    let rig = Rig::start(store).await;
    let services = &rig.app.state.app;
    let admin = services.cli_principal(&"admin".parse().unwrap()).await.unwrap();
    let calendar = services.create_token(&admin, "Kalender", &["calendar".into()], None).await.unwrap();
    let feed = |query: &str| {
        rig.app.client.get(rig.app.url(&format!("/api/v1/schedules/plattform/calendar.ics{query}"))).send()
    };
    let res = feed(&format!("?token={}", calendar.secret)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/calendar; charset=utf-8");
    assert!(res.text().await.unwrap().contains("SUMMARY:Rufbereitschaft: Ben Berger"));
    // The token reads the calendar and nothing else, in the URL or the header.
    assert_eq!(rig.get(&calendar.secret, "/api/v1/schedules/plattform/calendar.ics").await.status(), 200);
    assert_eq!(rig.get(&calendar.secret, "/api/v1/schedules").await.status(), 403);
    assert_eq!(rig.get(&calendar.secret, "/api/v1/alerts").await.status(), 403);
    // A URL token counts on no other route.
    let res = rig.app.client.get(rig.app.url(&format!("/api/v1/alerts?token={}", calendar.secret))).send();
    assert_eq!(res.await.unwrap().status(), 401);
    // Any other token is refused in the URL, saying why; unknown or none: 401.
    let res = feed(&format!("?token={}", rig.admin)).await.unwrap();
    assert_eq!(res.status(), 422);
    let problem = res.text().await.unwrap();
    assert!(
        problem.contains("token: a token in the URL must have the scope") && problem.contains("Authorization header")
    );
    assert_eq!(feed("?token=lst_0000").await.unwrap().status(), 401);
    assert_eq!(feed("").await.unwrap().status(), 401);
    // Revoked, the subscription stops.
    services.revoke_token(&admin, calendar.id).await.unwrap();
    assert_eq!(feed(&format!("?token={}", calendar.secret)).await.unwrap().status(), 401);

    // The pages offer the scope and say how to subscribe.
    let (_, html) = rig.app.page(&rig.cookie, "/tokens").await;
    assert!(
        html.contains("<option value=\"calendar\">Kalender (nur Bereitschaftspläne abonnieren)</option>"),
        "{html}"
    );
    let (_, html) = rig.app.page(&rig.cookie, "/alerts/schedules").await;
    assert!(html.contains("mit angehängtem ?token=… und einem Token, das nur das Recht „Kalender“ hat"), "{html}");
    assert!(html.contains("<a href=\"/tokens\">Token anlegen</a>"));
    rig.stop().await;
});

store_test!(schedules_on_call_overrides_and_the_calendar, |store| {
    let rig = Rig::start(store).await;
    let list = rig.json(&rig.admin, "/api/v1/schedules").await;
    assert_eq!(list[0]["id"], "plattform");
    // Anna from 16 Nov 09:00, Ben from 23 Nov 09:00 Berlin time (08:00 UTC).
    assert_eq!(list[0]["on_call"]["person"], "ben");
    assert_eq!(list[0]["on_call"]["name"], "Ben Berger");
    assert_eq!(list[0]["on_call"]["until"], "2026-11-30T08:00:00Z");
    let now_on_call = rig.json(&rig.admin, "/api/v1/schedules/plattform/oncall").await;
    assert_eq!(now_on_call["person"], "ben");
    assert_eq!(now_on_call["since"], "2026-11-23T08:00:00Z");

    let res = rig.get(&rig.admin, "/api/v1/schedules/plattform/calendar.ics").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/calendar; charset=utf-8");
    let ics = res.text().await.unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.contains("SUMMARY:Rufbereitschaft: Ben Berger"), "{ics}");
    assert!(ics.contains("@leitstand.example"), "UIDs carry the public host");
    assert_eq!(rig.get(&rig.admin, "/api/v1/schedules/nope/calendar.ics").await.status(), 404);

    let body = json!({
        "person": "anna", "starts_at": "2026-11-23T09:00:00Z", "ends_at": "2026-11-23T18:00:00Z", "reason": "Tausch"
    });
    let res = rig.post(&rig.admin, "/api/v1/schedules/plattform/overrides", &body).await;
    assert_eq!(res.status(), 201);
    let override_id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let unknown = json!({ "person": "carl", "starts_at": "2026-11-23T09:00:00Z", "ends_at": "2026-11-23T18:00:00Z" });
    let res = rig.post(&rig.admin, "/api/v1/schedules/plattform/overrides", &unknown).await;
    assert_eq!(res.status(), 422);
    let list = rig.json(&rig.admin, "/api/v1/schedules").await;
    assert_eq!(list[0]["overrides"][0]["name"], "Anna Arendt");
    let now_on_call = rig.json(&rig.admin, "/api/v1/schedules/plattform/oncall").await;
    assert_eq!((now_on_call["person"].as_str(), now_on_call["rotation"].as_str()), (Some("anna"), None));

    let (status, html) = rig.app.page(&rig.cookie, "/alerts/schedules").await;
    assert_eq!(status, 200);
    assert!(html.contains("Jetzt in Rufbereitschaft: Anna Arendt, bis 2026-11-23 19:00 CET."), "{html}");
    assert!(html.contains("href=\"/api/v1/schedules/plattform/calendar.ics\""));
    assert!(html.contains("Tausch"));
    // Adding through the form, in the schedule's local time.
    let csrf = csrf_of(&html);
    let add = |starts: &str| {
        let fields = [("csrf", csrf.as_str()), ("person", "anna"), ("starts", starts), ("ends", "2026-11-25T08:00")];
        let url = rig.app.url("/alerts/schedules/plattform/overrides");
        rig.app.client.post(url).header("cookie", &rig.cookie).form(&fields).send()
    };
    assert_eq!(add("2026-11-24T20:00").await.unwrap().status(), 303);
    let res = add("morgen").await.unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("href=\"#ov-plattform-starts\""));
    let list = rig.json(&rig.admin, "/api/v1/schedules").await;
    let starts: Vec<&str> =
        list[0]["overrides"].as_array().unwrap().iter().map(|o| o["starts_at"].as_str().unwrap()).collect();
    assert!(starts.contains(&"2026-11-24T19:00:00Z"), "20:00 in Berlin is 19:00 UTC: {starts:?}");

    let res = rig.app.client.delete(rig.app.url(&format!("/api/v1/overrides/{override_id}"))).bearer_auth(&rig.admin);
    assert_eq!(res.send().await.unwrap().status(), 204);
    let now_on_call = rig.json(&rig.admin, "/api/v1/schedules/plattform/oncall").await;
    assert_eq!(now_on_call["person"], "ben");
    rig.stop().await;
});

store_test!(channels_are_listed_and_tested, |store| {
    let rig = Rig::start(store).await;
    let list = rig.json(&rig.admin, "/api/v1/channels").await;
    assert_eq!(
        list,
        json!([{
            "id": "ops-hook", "name": "Ops-Webhook", "kind": "webhook", "language": "de", "fallback": null,
            "audiences": ["devops", "on_call"]
        }])
    );
    let res = rig.post(&rig.admin, "/api/v1/channels/ops-hook/test", &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "ok": true, "status": 204 }));
    assert_eq!(rig.post(&rig.admin, "/api/v1/channels/nope/test", &json!({})).await.status(), 404);

    let (status, html) = rig.app.page(&rig.cookie, "/alerts/channels").await;
    assert_eq!(status, 200);
    assert!(html.contains("Ops-Webhook") && html.contains("DevOps, Rufbereitschaft"));
    let res = rig
        .app
        .client
        .post(rig.app.url("/alerts/channels/ops-hook/test"))
        .header("cookie", &rig.cookie)
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("role=\"status\"") && html.contains("Testnachricht über Ops-Webhook zugestellt (Status 204).")
    );
    rig.stop().await;
});

store_test!(the_openapi_document_lists_the_alerting_api, |store| {
    let rig = Rig::start(store).await;
    let doc = rig.json(&rig.admin, "/api/v1/openapi.json").await;
    for path in [
        "/api/v2/alerts",
        "/api/v2/status",
        "/api/v1/alerts/alertmanager",
        "/api/v1/alerts",
        "/api/v1/alerts/{id}",
        "/api/v1/alerts/{id}/ack",
        "/api/v1/alerts/{id}/unack",
        "/api/v1/alerts/{id}/resolve",
        "/api/v1/alerts/{id}/notes",
        "/api/v1/silences",
        "/api/v1/silences/{id}",
        "/api/v1/schedules",
        "/api/v1/schedules/{id}/oncall",
        "/api/v1/schedules/{id}/calendar.ics",
        "/api/v1/schedules/{id}/overrides",
        "/api/v1/overrides/{id}",
        "/api/v1/channels",
        "/api/v1/channels/{id}/test",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    rig.stop().await;
});
