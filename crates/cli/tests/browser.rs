//! The console in a real browser: Debian's Chromium, driven over WebDriver (chromedriver) by
//! fantoccini, against a real `auditlog serve` on SQLite. What only a browser can show: the
//! link exchange with its cookie, the filter form, that hostile event fields render as text with
//! no script running, and screenshots of the pages.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium` (`.ci/run` installs Debian's
//! `chromium` and `chromium-driver`); `AUDITLOG_CHROMEDRIVER` names another driver.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Server, add_stream, auditlog_with, start_server_with};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// AWS settings that keep every S3 or STS call on this machine, where it fails at once.
const CLOSED_AWS: &[(&str, &str)] = &[
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9"),
    ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9"),
    ("AWS_ACCESS_KEY_ID", "unused"),
    ("AWS_SECRET_ACCESS_KEY", "unused"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver on a free loopback port, and a headless Chromium session through it.
async fn browser() -> (Driver, Client) {
    let driver =
        std::env::var("AUDITLOG_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let port = free_port();
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {driver} (apt-get install chromium-driver): {e}"));
    let driver = Driver(child);
    let profile = tempfile::tempdir().unwrap().keep();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": std::env::var("AUDITLOG_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no WebDriver session: {last:?}");
}

fn make_key(data: &Path, env: &[(&str, &str)], tenant: &str) -> String {
    let (ok, stdout, stderr) = auditlog_with(
        data,
        &[
            "keys",
            "create",
            "--tenant",
            tenant,
            "--scopes",
            "write,read,admin",
            "--json",
        ],
        env,
    );
    assert!(ok, "{stderr}");
    serde_json::from_str::<Value>(&stdout).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string()
}

fn console_link(
    data: &Path,
    env: &[(&str, &str)],
    server: &Server,
    tenant: &str,
    extra: &[&str],
) -> String {
    let mut args = vec!["console", "--tenant", tenant, "--url", server.url.as_str()];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = auditlog_with(data, &args, env);
    assert!(ok, "{stderr}");
    stdout.trim().to_string()
}

async fn post(server: &Server, key: &str, body: &Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/events", server.url))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// The ids of the clients' events (the service's own `auditlog.` records, which every read
/// adds, are left out; the self-audit suite checks those).
async fn api_ids(server: &Server, key: &str, query: &str) -> Vec<String> {
    let page: Value = reqwest::Client::new()
        .get(format!(
            "{}/v1/events?order=desc&limit=1000&{query}",
            server.url
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["action"].as_str().unwrap().starts_with("auditlog."))
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// The ids of the clients' events the page lists, without the service's own records.
async fn shown_ids(client: &Client) -> Vec<String> {
    let mut ids = Vec::new();
    for row in client.find_all(Locator::Css("tr[data-id]")).await.unwrap() {
        let action = row
            .find(Locator::Css("td.action"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if !action.starts_with("auditlog.") {
            ids.push(row.attr("data-id").await.unwrap().unwrap());
        }
    }
    ids
}

/// No dialog is open, and the page holds no script and no image element (the payloads'
/// `<script>` and `<img onerror>` stayed text).
async fn assert_no_script_ran(client: &Client) {
    assert!(client.get_alert_text().await.is_err(), "a dialog opened");
    let counts = client
        .execute(
            "return [document.scripts.length, document.images.length];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(counts, json!([0, 0]));
}

/// The text of the first element matching `css`.
async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Opens a page of the server's.
async fn visit(client: &Client, server: &Server, path: &str) {
    client.goto(&format!("{}{path}", server.url)).await.unwrap();
}

/// Waits until the page's URL carries the query parameter `name`.
async fn wait_for_query(client: &Client, name: &str) {
    for _ in 0..100 {
        let url = client.current_url().await.unwrap();
        if url.query_pairs().any(|(k, _)| k == name) {
            client
                .wait()
                .for_element(Locator::Css("nav.paging"))
                .await
                .unwrap();
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the form was not submitted with {name}");
}

/// Opens a one-time link and waits for the events it leads to.
async fn open_console(client: &Client, link: &str) {
    client.goto(link).await.unwrap();
    client
        .wait()
        .for_element(Locator::Css("table.events"))
        .await
        .unwrap();
}

/// Follows the paging link `rel` if the page has one.
async fn click(client: &Client, rel: &str) -> bool {
    let Ok(link) = client.find(Locator::Css(&format!("a[rel={rel}]"))).await else {
        return false;
    };
    let before = client.current_url().await.unwrap();
    link.click().await.unwrap();
    // A navigation: wait for the new URL, not for the old page's elements.
    for _ in 0..100 {
        if client.current_url().await.unwrap() != before {
            client
                .wait()
                .for_element(Locator::Css("nav.paging"))
                .await
                .unwrap();
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the {rel} link led nowhere");
}

/// Ends the browser session and the server.
async fn finish(client: Client, mut server: Server) {
    client.close().await.unwrap();
    let _ = server.child.kill();
    let _ = server.child.wait();
}

fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // Every AWS endpoint is a closed loopback port: the S3 destination below fails, here.
    let server = start_server_with(data, CLOSED_AWS);
    let key = make_key(data, &[], "acme");
    let other = make_key(data, &[], "rival");
    let answer = seed(&server, &key, &other).await;
    let (_driver, client) = browser().await;
    let page = Page {
        client: &client,
        server: &server,
        data,
        key: &key,
    };
    let link = page.lists_one_tenants_events_as_text().await;
    page.filters_show_what_the_api_returns().await;
    page.downloads_hold_the_filtered_events().await;
    page.the_detail_shows_every_field_and_the_receipt(&answer)
        .await;
    page.links_and_sessions_cannot_be_reused_widened_or_forged(&link)
        .await;
    page.an_admin_sees_failing_destinations_and_streams().await;
    finish(client, server).await;
}

/// Three events of acme's (one with hostile fields) and one of a rival tenant's; acme's answer.
async fn seed(server: &Server, key: &str, other: &str) -> Value {
    let hostile = json!({"events": [
        {"id": "evil-1", "action": "user.login",
         "actor": {"id": "u_1", "name": "<script>alert('actor')</script>", "email": "ada@example.com"},
         "targets": [{"id": "doc-9", "name": "<img src=x onerror=alert('target')>"}],
         "metadata": {"link": "javascript:alert('meta')", "close": "</textarea><script>alert(1)</script>"},
         "source": {"service": "billing"}},
        {"id": "pay-1", "action": "billing.paid", "actor": {"id": "u_42"}, "outcome": "success",
         "source": {"service": "billing"}},
        {"id": "pay-2", "action": "billing.refunded", "actor": {"id": "u_42"}, "outcome": "failure",
         "targets": [{"id": "inv-7"}], "source": {"service": "ledger"}},
    ]});
    let answer = post(server, key, &hostile).await;
    post(
        server,
        other,
        &json!({"id": "rival-1", "action": "user.login", "actor": {"id": "r"}}),
    )
    .await;

    answer
}

/// One browser on one server, acting for acme: each step of the test in a method.
struct Page<'a> {
    client: &'a Client,
    server: &'a Server,
    data: &'a Path,
    key: &'a str,
}

impl Page<'_> {
    /// Opens a console link and checks the list; returns the (now used) link.
    async fn lists_one_tenants_events_as_text(&self) -> String {
        let (client, server, data) = (self.client, self.server, self.data);
        let link = console_link(data, &[], server, "acme", &["--display-name", "Ada"]);
        open_console(client, &link).await;
        assert!(
            client
                .current_url()
                .await
                .unwrap()
                .path()
                .ends_with("/console/events")
        );
        assert_eq!(
            shown_ids(client).await,
            ["pay-2", "pay-1", "evil-1"],
            "acme's events only"
        );
        assert_no_script_ran(client).await;
        let actor = client
            .find(Locator::Css("tr[data-id='evil-1'] td.actor"))
            .await
            .unwrap();
        assert!(
            actor
                .text()
                .await
                .unwrap()
                .contains("<script>alert('actor')</script>")
        );
        std::fs::write(
            artefacts().join("console-events.png"),
            client.screenshot().await.unwrap(),
        )
        .unwrap();

        link
    }

    async fn filters_show_what_the_api_returns(&self) {
        let (client, server, key) = (self.client, self.server, self.key);
        // Each filter of the form narrows to exactly what the API returns for the same query.
        for (field, value, query) in [
            ("action", "billing.*", "action=billing.*"),
            ("actor_id", "u_42", "actor_id=u_42"),
            (
                "actor_email",
                "ada@example.com",
                "actor_email=ada@example.com",
            ),
            ("target_id", "inv-7", "target_id=inv-7"),
            ("source_service", "billing", "source_service=billing"),
        ] {
            visit(client, server, "/console/events").await;
            let form = client.form(Locator::Css("form.filters")).await.unwrap();
            form.set_by_name(field, value).await.unwrap();
            form.submit().await.unwrap();
            // The submission is a navigation: wait for its URL, not for the old page's elements.
            wait_for_query(client, field).await;
            assert_eq!(
                shown_ids(client).await,
                api_ids(server, key, query).await,
                "{field}"
            );
        }
        visit(client, server, "/console/events?outcome=failure").await;
        assert_eq!(shown_ids(client).await, ["pay-2"]);
        // The time range: a preset, and a custom window that ends before the events.
        visit(client, server, "/console/events?range=1h").await;
        assert_eq!(shown_ids(client).await, api_ids(server, key, "").await);
        visit(
            client,
            server,
            "/console/events?range=custom&to=2020-01-01T00:00",
        )
        .await;
        assert!(shown_ids(client).await.is_empty());
        assert!(text_of(client, "p.empty").await.contains("No events match"));
        assert!(
            api_ids(server, key, "to=2020-01-01T00:00:00Z")
                .await
                .is_empty()
        );
    }

    async fn downloads_hold_the_filtered_events(&self) {
        let (client, server, key) = (self.client, self.server, self.key);
        // The downloads, fetched by the page itself with its session cookie, hold exactly the
        // filtered events.
        visit(client, server, "/console/events?action=billing.*").await;
        let fetch = "fetch(arguments[0]).then(r => r.text()).then(arguments[1])";
        let ndjson = client
            .execute_async(
                fetch,
                vec![json!("/console/download?format=ndjson&action=billing.*")],
            )
            .await
            .unwrap();
        let lines: Vec<String> = ndjson
            .as_str()
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(lines, api_ids(server, key, "action=billing.*").await);
        let csv = client
            .execute_async(
                fetch,
                vec![json!("/console/download?format=csv&action=billing.*")],
            )
            .await
            .unwrap();
        let ids: Vec<&str> = csv
            .as_str()
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(ids, lines);
    }

    async fn the_detail_shows_every_field_and_the_receipt(&self, answer: &Value) {
        let (client, server) = (self.client, self.server);
        // The detail page: every field as text, and the receipt the sender got.
        visit(client, server, "/console/event?id=evil-1").await;
        let json_text = text_of(client, "pre.json").await;
        assert!(json_text.contains("</textarea><script>alert(1)</script>"));
        let receipt = text_of(client, "code.receipt").await;
        assert_eq!(receipt, answer["items"][0]["sha256"].as_str().unwrap());
        assert_no_script_ran(client).await;
        std::fs::write(
            artefacts().join("console-detail.png"),
            client.screenshot().await.unwrap(),
        )
        .unwrap();
    }

    async fn links_and_sessions_cannot_be_reused_widened_or_forged(&self, link: &str) {
        let (client, server, data) = (self.client, self.server, self.data);
        // The used link, in the same browser, is refused with a page.
        client.goto(link).await.unwrap();
        let refusal = text_of(client, "p.refusal").await;
        assert!(refusal.contains("already used"), "{refusal}");

        // A session held to one actor cannot be widened by editing the URL.
        let held = console_link(data, &[], server, "acme", &["--actor-id", "u_42"]);
        open_console(client, &held).await;
        assert_eq!(shown_ids(client).await, ["pay-2", "pay-1"]);
        visit(client, server, "/console/events?actor_id=u_1").await;
        let problems = text_of(client, "div.problems").await;
        assert!(
            problems.contains("limited to actor_id = u_42"),
            "{problems}"
        );
        assert!(shown_ids(client).await.is_empty());

        // Forged links and cookies get the refusal page; the session's cookie is no API credential.
        let forged = format!(
            "{}{}",
            &held[..held.len() - 2],
            if held.ends_with("AA") { "BB" } else { "AA" }
        );
        client.goto(&forged).await.unwrap();
        assert!(text_of(client, "p.refusal").await.contains("not valid"));
        let post = "fetch('/v1/events', {method: 'POST', headers: {'Content-Type': 'application/json'}, \
            body: '{\"action\": \"user.login\", \"actor\": {\"id\": \"x\"}}'}).then(r => arguments[0](r.status))";
        visit(client, server, "/console/events").await;
        assert_eq!(
            client.execute_async(post, vec![]).await.unwrap(),
            json!(401)
        );
        let destinations = "fetch('/v1/destinations').then(r => arguments[0](r.status))";
        assert_eq!(
            client.execute_async(destinations, vec![]).await.unwrap(),
            json!(401)
        );
        // A page's script cannot replace the HttpOnly cookie; WebDriver can, with a forged one.
        client.delete_all_cookies().await.unwrap();
        let mut forged_cookie = fantoccini::cookies::Cookie::new(
            "auditlog_console",
            "vsc_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        );
        forged_cookie.set_path("/console");
        forged_cookie.set_domain("127.0.0.1");
        forged_cookie.set_http_only(true);
        forged_cookie.set_same_site(cookie::SameSite::Strict);
        client.add_cookie(forged_cookie).await.unwrap();
        visit(client, server, "/console/events").await;
        assert!(
            text_of(client, "p.refusal")
                .await
                .contains("no such viewer session")
        );
    }

    async fn an_admin_sees_failing_destinations_and_streams(&self) {
        let (client, server, data, key) = (self.client, self.server, self.data, self.key);
        // A destination whose export failed: an admin session shows its last error.
        let response = reqwest::Client::new()
            .post(format!("{}/v1/destinations", server.url))
            .bearer_auth(key)
            .json(&json!({"bucket": "acme-audit"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let mut export_env = CLOSED_AWS.to_vec();
        export_env.extend([
            ("AUDITLOG_EXPORT_WINDOW", "1m"),
            ("AUDITLOG_EXPORT_GRACE", "1s"),
        ]);
        tokio::time::sleep(Duration::from_secs(61)).await;
        let (ok, summary, _) = auditlog_with(data, &["export"], &export_env);
        assert!(!ok, "the export must fail against a closed port: {summary}");
        // A paused webhook stream (its URL's query holds a token that no page may show).
        let stream_env = [
            (
                "HOOK_SECRET",
                "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
            ("AUDITLOG_STREAM_ALLOW_HTTP", "true"),
            ("AUDITLOG_STREAM_ALLOW_PRIVATE", "true"),
        ];
        let stream = json!({"webhook": {"url": "http://127.0.0.1:9/hook?token=never-shown",
            "secret_env": "HOOK_SECRET"}, "format": "ocsf",
            "filter": {"exclude": {"actions": ["auditlog.*"]}}});
        let stream_id = add_stream(data, "acme", &stream, &stream_env);
        let (ok, _, stderr) =
            auditlog_with(data, &["destinations", "pause", &stream_id], &stream_env);
        assert!(ok, "{stderr}");
        open_console(
            client,
            &console_link(data, &[], server, "acme", &["--admin"]),
        )
        .await;
        client
            .find(Locator::LinkText("Destinations"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let card = text_of(client, "section.destination").await;
        assert!(
            card.contains("Failing") && card.contains("s3://acme-audit/"),
            "{card}"
        );
        let error = text_of(client, "dd.last-error").await;
        assert!(error.len() > 20, "the last error with its hint: {error}");
        let stream_card = text_of(client, "section.stream").await;
        for shown in [
            stream_id.as_str(),
            "webhook",
            "http://127.0.0.1:9/hook",
            "Paused",
            "ocsf: never auditlog.*",
            "events, the oldest received",
        ] {
            assert!(stream_card.contains(shown), "{shown} in {stream_card}");
        }
        assert!(!stream_card.contains("never-shown"), "{stream_card}");
        std::fs::write(
            artefacts().join("console-destinations.png"),
            client.screenshot().await.unwrap(),
        )
        .unwrap();
    }
}

/// The event list on DynamoDB Local: `serve`, `keys`, `console` and `tables` on the same tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_events_stored_in_dynamodb() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "set AWS_ENDPOINT_URL_DYNAMODB to a DynamoDB Local (scripts/test starts one)"
    );
    let run = format!("browser{}", std::process::id());
    let (events, keys, exports) = (
        format!("{run}-events"),
        format!("{run}-keys"),
        format!("{run}-exports"),
    );
    let env = [
        ("AUDITLOG_STORE", "dynamodb"),
        ("AUDITLOG_EVENTS_TABLE", events.as_str()),
        ("AUDITLOG_KEYS_TABLE", keys.as_str()),
        ("AUDITLOG_EXPORTS_TABLE", exports.as_str()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = auditlog_with(dir.path(), &["tables", "create"], &env);
    assert!(ok, "{stderr}");
    let server = start_server_with(dir.path(), &env);
    let key = make_key(dir.path(), &env, "acme");
    let batch: Vec<Value> = (0..250)
        .map(|i| json!({"id": format!("d-{i:03}"), "action": "doc.viewed", "actor": {"id": "u"}}))
        .collect();
    post(&server, &key, &json!({"events": batch})).await;

    let (_driver, client) = browser().await;
    open_console(
        &client,
        &console_link(dir.path(), &env, &server, "acme", &[]),
    )
    .await;
    // Forward by clicking "next" to the last page, then back by "previous" to the first.
    visit(&client, &server, "/console/events?limit=100").await;
    let mut pages = vec![shown_ids(&client).await];
    while click(&client, "next").await {
        pages.push(shown_ids(&client).await);
    }
    let api = api_ids(&server, &key, "").await;
    assert_eq!(api.len(), 250);
    assert_eq!(
        pages.concat(),
        api,
        "forward: each event once, newest first"
    );
    assert_eq!(pages.len(), 3);
    let mut back = vec![shown_ids(&client).await];
    while click(&client, "prev").await {
        back.push(shown_ids(&client).await);
    }
    back.reverse();
    // The paging session is pinned to its first page, so the records of these page views
    // (one each, newer than all of it) never join it: back to the same first page, no further.
    assert_eq!(back, pages, "backward: the same pages");
    finish(client, server).await;
}
