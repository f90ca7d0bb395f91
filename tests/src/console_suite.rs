//! The console over HTTP, on every store: viewer sessions (issue, open once, every refusal),
//! the cookie that only opens console pages, tenant isolation, escaping, the fixed filter and
//! paging. What a browser adds (no script runs, the form works) is in the browser tests.

use serde_json::{Value, json};

use crate::TestService;

/// A viewer session issued through the API: (status, answer).
pub async fn issue(s: &TestService, key: &str, body: Value) -> (u16, Value) {
    let response = s
        .client
        .post(s.url("/v1/viewer-sessions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Opens a link: (status, the session cookie if one was set, the `Set-Cookie` text, page).
pub async fn open(
    s: &TestService,
    path: &str,
    https: bool,
) -> (u16, Option<String>, String, String) {
    let mut request = s.client.get(s.url(path));
    if https {
        request = request.header("x-forwarded-proto", "https");
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let cookie = set_cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("auditlog_console="))
        .map(str::to_string);
    (status, cookie, set_cookie, response.text().await.unwrap())
}

/// A console page with a session cookie: (status, headers, HTML).
pub async fn page(
    s: &TestService,
    cookie: Option<&str>,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = s.client.get(s.url(path));
    if let Some(c) = cookie {
        request = request.header("cookie", format!("auditlog_console={c}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// Issues and opens a session for `key`'s tenant; the cookie.
pub async fn session(s: &TestService, key: &str, body: Value) -> String {
    let (status, issued) = issue(s, key, body).await;
    assert_eq!(status, 201, "{issued}");
    let (status, cookie, _, html) = open(s, issued["path"].as_str().unwrap(), false).await;
    assert_eq!(status, 200, "{html}");
    cookie.expect("a session cookie")
}

/// The event ids a list page shows, in order.
/// The ids of the clients' events a page lists, in order; rows of the service's own
/// `auditlog.` records (every page view adds one) are left out: the self-audit suite checks
/// those.
pub fn listed_ids(html: &str) -> Vec<String> {
    html.split("data-id=\"")
        .skip(1)
        .filter(|row| {
            let row = row.split("</tr>").next().unwrap_or_default();
            !row.contains("<td class=\"action\">auditlog.")
        })
        .filter_map(|rest| rest.split('"').next())
        .map(|id| id.replace("&amp;", "&").replace("&quot;", "\""))
        .collect()
}

/// The `href` of the link with `rel`, unescaped.
pub fn link(html: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let rest = html.split(&marker).nth(1)?;
    Some(rest.split('"').next()?.replace("&amp;", "&"))
}

pub async fn viewer_sessions_open_once_and_refuse_every_other_way_in(s: &TestService) {
    let admin = s.key("acme", "admin").await;
    let reader = s.key("acme", "write,read").await;
    let (status, refused) = issue(s, &reader, json!({})).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );

    let (status, bad) = issue(
        s,
        &admin,
        json!({"expires_in": 10, "filter": {"action": "*"}, "display_name": ""}),
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    let pointers: Vec<&str> = bad["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/expires_in", "/display_name", "/filter/action"]);
    let (status, bad) = issue(s, &admin, json!({"tenant": "other"})).await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("malformed_json")),
        "a tenant cannot be named"
    );
    for shape in [json!({"filter": [null, null]}), json!([3600, null, "Ada"])] {
        let (status, bad) = issue(s, &admin, shape.clone()).await;
        assert_eq!(
            (status, bad["error"]["code"].as_str()),
            (400, Some("malformed_json")),
            "{shape}"
        );
    }

    let (status, issued) =
        issue(s, &admin, json!({"display_name": "Ada", "expires_in": 600})).await;
    assert_eq!(status, 201, "{issued}");
    let path = issued["path"].as_str().unwrap().to_string();
    assert!(issued["url"].as_str().unwrap().ends_with(&path));
    assert!(path.starts_with("/console/open?token=vsl_"));

    // Opened once: an HttpOnly, SameSite=Strict cookie for /console; Secure behind HTTPS.
    let (status, cookie, set_cookie, _) = open(s, &path, true).await;
    assert_eq!(status, 200);
    let cookie = cookie.expect("cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/console", "Secure"] {
        assert!(set_cookie.contains(part), "{set_cookie} lacks {part}");
    }
    let (status, again, _, html) = open(s, &path, false).await;
    assert_eq!((status, again), (403, None));
    assert!(html.contains("already used"), "{html}");

    // Forged, malformed and unknown links, and cookies, get the refusal page.
    let forged = format!("{}A", &path[..path.len() - 1]);
    let forged = if forged == path {
        format!("{}B", &path[..path.len() - 1])
    } else {
        forged
    };
    for (bad, says) in [
        (forged.as_str(), "not valid"),
        ("/console/open?token=nonsense", "altered"),
        ("/console/open", "altered"),
        (
            "/console/open?token=vsl_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "no such",
        ),
    ] {
        let (status, cookie, _, html) = open(s, bad, false).await;
        assert_eq!((status, cookie), (403, None), "{bad}");
        assert!(
            html.contains(says) && html.contains("<h1>"),
            "{bad}: {html}"
        );
    }

    // The cookie opens console pages, with their security headers, and nothing else.
    let (status, headers, html) = page(s, Some(&cookie), "/console/events").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Ada"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let (status, _, html) = page(s, None, "/console/events").await;
    assert!(
        status == 401 && html.contains("no viewer session"),
        "{status} {html}"
    );
    let wrong = format!("{}x", &cookie[..cookie.len() - 1]);
    let (status, _, _) = page(s, Some(&wrong), "/console/events").await;
    assert_eq!(status, 403);
    let with_cookie = |method: reqwest::Method, path: &str| {
        s.client
            .request(method, s.url(path))
            .header("cookie", format!("auditlog_console={cookie}"))
            .header("content-type", "application/json")
            .body(r#"{"action": "user.login", "actor": {"id": "x"}}"#)
    };
    for (method, path) in [
        (reqwest::Method::POST, "/v1/events"),
        (reqwest::Method::GET, "/v1/events"),
        (reqwest::Method::GET, "/v1/destinations"),
        (reqwest::Method::POST, "/v1/viewer-sessions"),
    ] {
        let status = with_cookie(method.clone(), path)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401, "{method} {path} with a viewer cookie");
    }

    // Past its expiry, neither an unopened link nor an open session's cookie works.
    let (_, late) = issue(s, &admin, json!({"expires_in": 60})).await;
    s.advance_clock(10 * 60 * 1000);
    let (status, _, _, html) = open(s, late["path"].as_str().unwrap(), false).await;
    assert!(status == 403 && html.contains("expired"), "{html}");
    let (status, _, html) = page(s, Some(&cookie), "/console/events").await;
    assert!(status == 403 && html.contains("expired"), "{html}");
}

pub async fn the_console_shows_only_the_sessions_view_escaped(s: &TestService) {
    let a = s.key("tenant-a", "write,read,admin").await;
    let b = s.key("tenant-b", "write,read,admin").await;
    let hostile = json!({
        "id": "x-1", "action": "user.login",
        "actor": {"id": "u_1", "name": "<script>alert('actor')</script>"},
        "targets": [{"id": "t", "name": "<img src=x onerror=alert('target')>"}],
        "metadata": {"note": "</textarea><a href=\"javascript:alert('meta')\">x</a>"}
    });
    let (status, answer) = s
        .post_events(
            &a,
            &json!({"events": [
                hostile,
                {"id": "x-2", "action": "billing.paid", "actor": {"id": "u_42"}},
                {"id": "x-3", "action": "billing.refunded", "actor": {"id": "u_42"}},
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let receipt = answer["items"][0]["sha256"].as_str().unwrap().to_string();
    s.post_events(
        &b,
        &json!({"id": "b-1", "action": "user.login", "actor": {"id": "u_1"}}),
    )
    .await;

    let cookie = session(s, &a, json!({})).await;
    let (_, _, html) = page(s, Some(&cookie), "/console/events").await;
    assert_eq!(
        listed_ids(&html),
        ["x-3", "x-2", "x-1"],
        "newest first, tenant A only"
    );
    for raw in ["<script>alert", "<img src=x", "</textarea><a"] {
        assert!(!html.contains(raw), "unescaped {raw}");
    }
    assert!(html.contains("&lt;script&gt;alert"));
    let (status, _, detail) = page(s, Some(&cookie), "/console/event?id=x-1").await;
    assert_eq!(status, 200);
    assert!(detail.contains(&receipt), "the receipt the sender got");
    assert!(
        !detail.contains("<a href=\"javascript"),
        "escaped in the JSON too"
    );
    let (status, _, _) = page(s, Some(&cookie), "/console/event?id=b-1").await;
    assert_eq!(status, 404, "another tenant's event does not exist here");

    // A fixed filter narrows every page, and cannot be widened through the URL.
    let held = session(
        s,
        &a,
        json!({"filter": {"actor_id": "u_42", "action": "billing.*"}}),
    )
    .await;
    let (_, _, html) = page(s, Some(&held), "/console/events").await;
    assert_eq!(listed_ids(&html), ["x-3", "x-2"]);
    let (_, _, html) = page(s, Some(&held), "/console/events?action=billing.paid").await;
    assert_eq!(listed_ids(&html), ["x-2"], "narrowing is allowed");
    for widen in [
        "actor_id=u_1",
        "action=user.*",
        "action=billing.paid&actor_id=u_1",
    ] {
        let (status, _, html) = page(s, Some(&held), &format!("/console/events?{widen}")).await;
        assert!(
            status == 400 && html.contains("limited to") && listed_ids(&html).is_empty(),
            "{widen}"
        );
    }
    let (status, _, _) = page(s, Some(&held), "/console/event?id=x-1").await;
    assert_eq!(status, 404, "the detail page keeps to the view");
}

pub async fn console_pages_forward_and_back_through_every_event_once(s: &TestService) {
    let key = s.key("pager", "write,read,admin").await;
    for chunk in 0..5 {
        let events: Vec<Value> = (0..50)
            .map(|i| json!({"id": format!("p-{:03}", chunk * 50 + i), "action": "doc.viewed", "actor": {"id": "u"}}))
            .collect();
        let (status, _) = s.post_events(&key, &json!({"events": events})).await;
        assert_eq!(status, 201);
    }
    let api: Vec<String> = s
        .client_pages(&key, "order=desc&limit=1000")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(api.len(), 250);
    let cookie = session(s, &key, json!({})).await;
    let mut url = "/console/events?limit=25".to_string();
    let mut pages: Vec<Vec<String>> = Vec::new();
    loop {
        let (status, _, html) = page(s, Some(&cookie), &url).await;
        assert_eq!(status, 200, "{html}");
        pages.push(listed_ids(&html));
        match link(&html, "next") {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(pages.concat(), api, "forward: every event once, in order");
    // And back from the last page to the first.
    let mut back = vec![pages.last().unwrap().clone()];
    loop {
        let (_, _, html) = page(s, Some(&cookie), &url).await;
        match link(&html, "prev") {
            Some(prev) => {
                url = prev;
                let (_, _, html) = page(s, Some(&cookie), &url).await;
                back.push(listed_ids(&html));
            }
            None => break,
        }
    }
    back.reverse();
    // The paging session is pinned to its first page, so the records of these page views
    // (one each, newer than all of it) never join it: back to the same first page, no further.
    assert_eq!(back, pages, "backward: the same pages");
}

pub async fn downloads_hold_exactly_the_filtered_events(s: &TestService) {
    let key = s.key("dl", "write,read,admin").await;
    let (status, _) = s
        .post_events(&key, &json!({"events": [
            {"id": "d-1", "action": "billing.paid", "actor": {"id": "u_42", "name": "=HYPERLINK(\"http://evil\")"},
             "targets": [{"id": "inv-1", "type": "invoice", "name": "-2+3"}, {"id": "inv-2"}],
             "context": {"ip_address": "203.0.113.9"}, "metadata": {"plan": "pro"}},
            {"id": "d-2", "action": "billing.refunded", "actor": {"id": "u_42"}, "outcome": "failure"},
            {"id": "d-3", "action": "user.login", "actor": {"id": "u_7", "email": "ada@example.com"}},
        ]}))
        .await;
    assert_eq!(status, 201);
    let cookie = session(s, &key, json!({})).await;
    let fetch = |path: String| {
        let request = s
            .client
            .get(s.url(&path))
            .header("cookie", format!("auditlog_console={cookie}"));
        async move {
            let response = request.send().await.unwrap();
            let headers = response.headers().clone();
            (
                response.status().as_u16(),
                headers,
                response.text().await.unwrap(),
            )
        }
    };

    // The list links its downloads, with the same filters.
    let (_, _, html) = page(s, Some(&cookie), "/console/events?action=billing.*").await;
    let csv_link = html
        .split("class=\"download\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(
        csv_link.contains("format=csv") && csv_link.contains("action=billing.*"),
        "{csv_link}"
    );

    let (status, headers, text) = fetch(csv_link).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"auditlog-dl-")
    );
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        &header[..6],
        [
            "id",
            "received_at",
            "occurred_at",
            "action",
            "outcome",
            "actor.id"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    let api: Vec<String> = s
        .all_pages(&key, "action=billing.*&order=desc")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, api, "exactly the API's events for the same filter");
    let d1 = rows.iter().find(|r| &r[0] == "d-1").unwrap();
    assert_eq!(
        &d1[column("actor.name")],
        "'=HYPERLINK(\"http://evil\")",
        "no formula runs"
    );
    assert_eq!(&d1[column("targets.id")], "inv-1; inv-2");
    assert_eq!(
        &d1[column("targets.name")],
        "'-2+3; ",
        "a cell that starts a formula is quoted"
    );
    assert_eq!(&d1[column("targets.type")], "invoice; ");
    assert_eq!(&d1[column("context.ip_address")], "203.0.113.9");
    assert_eq!(&d1[column("metadata")], r#"{"plan":"pro"}"#);

    // NDJSON: the stored events, byte for byte as the API returns them.
    let (status, headers, text) = fetch("/console/download?format=ndjson".into()).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The download was recorded before its first line, with its count and the moment its view
    // was pinned at: the same query up to that moment is exactly what it held.
    let records = s
        .all_pages(&key, "action=auditlog.console.downloaded&order=desc")
        .await;
    let record = &records[0]["metadata"];
    assert_eq!(record["format"], "ndjson");
    assert_eq!(record["returned"], lines.len());
    let to = record["filters"]["to"].as_str().expect("the pinned end");
    assert_eq!(
        lines,
        s.all_pages(&key, &format!("order=desc&to={to}")).await
    );
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "auditlog.viewer_session.opened"),
        "the download holds the service's own records too"
    );

    // A session's fixed filter holds for downloads too.
    let held = session(s, &key, json!({"filter": {"actor_id": "u_7"}})).await;
    let response = s
        .client
        .get(s.url("/console/download?format=ndjson"))
        .header("cookie", format!("auditlog_console={held}"))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains("\"d-3\""));
    let widened = s
        .client
        .get(s.url("/console/download?format=csv&actor_id=u_42"))
        .header("cookie", format!("auditlog_console={held}"))
        .send()
        .await
        .unwrap();
    assert_eq!(widened.status(), 400);
}

pub async fn admin_sessions_show_each_destinations_health(s: &TestService) {
    use auditlog_core::export::ExportError;
    let key = s.key("ops", "write,read,admin").await;
    let rival = s.key("rival", "admin").await;
    let add = |key: String, bucket: &'static str| async move {
        let response = s
            .client
            .post(s.url("/v1/destinations"))
            .bearer_auth(key)
            .json(&json!({"bucket": bucket}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let id = add(key.clone(), "ops-audit").await;
    let rival_id = add(rival, "rival-audit").await;
    // The exporter's last attempt failed: its state says so, as an export pass records it.
    let mut state = s.store.export_state(&id).await.unwrap();
    let expected = state.version;
    state.version += 1;
    state.last_error = Some(ExportError {
        at: s.now(),
        message: "AccessDenied writing <ops-audit>: the role's policy does not grant s3:PutObject"
            .into(),
    });
    assert!(s.store.save_export_state(&state, expected).await.unwrap());

    let viewer = session(s, &key, json!({})).await;
    let (status, _, html) = page(s, Some(&viewer), "/console/destinations").await;
    assert!(status == 403 && html.contains("admin session"), "{status}");
    let admin = session(s, &key, json!({"admin": true})).await;
    let (_, _, events) = page(s, Some(&admin), "/console/events").await;
    assert!(events.contains("href=\"/console/destinations\""));
    let (status, _, html) = page(s, Some(&admin), "/console/destinations").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(&id) && !html.contains(&rival_id),
        "the tenant's destinations only"
    );
    assert!(html.contains("Failing"));
    assert!(
        html.contains("AccessDenied writing &lt;ops-audit&gt;: the role&#39;s policy")
            || html.contains("AccessDenied writing &lt;ops-audit&gt;: the role's policy"),
        "{html}"
    );
    assert!(html.contains("s3://ops-audit/"));
}
