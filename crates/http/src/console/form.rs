//! The events page's URL: the filter form's fields in, and the concrete query (with paging) out,
//! so every view is a URL that can be shared, bookmarked and paged. The filters themselves are
//! parsed by `auditlog_core::query::parse_query`, as for `GET /v1/events`.

use auditlog_core::Timestamp;
use auditlog_core::query::{EventQuery, ParamError, parse_query};

/// Page sizes the form offers; the default is the first after 25.
pub const PAGE_SIZES: [usize; 4] = [25, 50, 100, 250];
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// Time-range presets: (form value, label, length in ms).
pub const RANGES: [(&str, &str, Option<i64>); 5] = [
    ("all", "any time", None),
    ("1h", "last hour", Some(3_600_000)),
    ("24h", "last 24 hours", Some(86_400_000)),
    ("7d", "last 7 days", Some(7 * 86_400_000)),
    ("custom", "custom (from, to)", None),
];

/// What one request of the events page asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub query: EventQuery,
    pub cursor: Option<String>,
    /// Paging backwards: read the page before `cursor`.
    pub back: bool,
    /// The preset the form shows as chosen.
    pub range: &'static str,
}

/// `2026-12-01T14:05` (what a person types, or a `datetime-local` input sends) as UTC.
fn as_utc(value: &str) -> String {
    let bytes = value.as_bytes();
    let shaped = |len: usize| value.len() == len && bytes.get(10) == Some(&b'T');
    if shaped(16) {
        format!("{value}:00Z")
    } else if shaped(19) {
        format!("{value}Z")
    } else {
        value.to_string()
    }
}

/// Parses the page's query pairs: empty fields are absent (a GET form sends them all), the
/// newest events come first unless asked otherwise, and a preset range becomes a concrete
/// `from` as of `now` (so its paging links keep one fixed window).
pub fn parse_list(
    pairs: &[(String, String)],
    now: Timestamp,
) -> Result<ListRequest, Vec<ParamError>> {
    let mut filters = Vec::new();
    let (mut back, mut range, mut errors) = (false, "all", Vec::new());
    for (key, value) in pairs.iter().filter(|(_, v)| !v.trim().is_empty()) {
        match key.as_str() {
            "back" => back = value == "1",
            "range" => match RANGES.iter().find(|(name, _, _)| name == value) {
                Some((name, _, _)) => range = name,
                None => errors.push(ParamError {
                    parameter: "range".into(),
                    message: "choose one of the listed ranges".into(),
                }),
            },
            "from" | "to" => filters.push((key.clone(), as_utc(value.trim()))),
            _ => filters.push((key.clone(), value.trim().to_string())),
        }
    }
    let preset = RANGES
        .iter()
        .find(|(name, _, _)| *name == range)
        .and_then(|r| r.2);
    if let Some(length) = preset {
        filters.retain(|(k, _)| k != "from" && k != "to");
        filters.push(("from".into(), (now.0 - length).to_string()));
    } else if range == "all" && filters.iter().any(|(k, _)| k == "from" || k == "to") {
        range = "custom";
    }
    if !filters.iter().any(|(k, _)| k == "order") {
        filters.push(("order".into(), "desc".into()));
    }
    if !filters.iter().any(|(k, _)| k == "limit") {
        filters.push(("limit".into(), DEFAULT_PAGE_SIZE.to_string()));
    }
    let parsed = parse_query(&filters);
    match parsed {
        Ok(parsed) if errors.is_empty() => Ok(ListRequest {
            query: parsed.query,
            cursor: parsed.cursor,
            back,
            range,
        }),
        Ok(_) => Err(errors),
        Err(mut more) => {
            errors.append(&mut more);
            Err(errors)
        }
    }
}

/// A console URL's query string as decoded pairs.
pub fn pairs_of(raw: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// What a session may see for these pairs: [`parse_list`], then narrowed by the session's
/// fixed filter. The list and the downloads read through this one gate.
pub fn parse_view(
    pairs: &[(String, String)],
    now: Timestamp,
    fixed: &EventQuery,
) -> Result<ListRequest, Vec<ParamError>> {
    let mut request = parse_list(pairs, now)?;
    auditlog_core::viewer::narrow(fixed, &mut request.query)?;
    Ok(request)
}

/// The query as URL pairs that parse back to the same query.
pub fn query_pairs(query: &EventQuery) -> Vec<(&'static str, String)> {
    query.to_pairs()
}

/// `/console/events?...` for `pairs`.
pub fn events_url(pairs: &[(&str, String)]) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        url.append_pair(k, v);
    }
    format!("/console/events?{}", url.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_fields_are_absent_and_newest_comes_first() {
        let now = Timestamp(10_000_000_000);
        let request = parse_list(&pairs(&[("action", ""), ("actor_id", " u_1 ")]), now).unwrap();
        assert_eq!(request.query.order, auditlog_core::query::Order::Desc);
        assert_eq!(request.query.limit, DEFAULT_PAGE_SIZE);
        assert_eq!(request.query.actor_id.as_deref(), Some("u_1"));
        assert_eq!(request.query.action, None);
    }

    #[test]
    fn a_preset_becomes_a_fixed_window_and_links_parse_back() {
        let now = Timestamp(10_000_000_000);
        let request = parse_list(&pairs(&[("range", "1h"), ("action", "user.*")]), now).unwrap();
        assert_eq!(request.query.from, Some(Timestamp(now.0 - 3_600_000)));
        let link: Vec<(String, String)> = query_pairs(&request.query)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let again = parse_list(&link, Timestamp(now.0 + 60_000)).unwrap();
        assert_eq!(
            again.query, request.query,
            "a later page keeps the same window"
        );
        assert_eq!(again.range, "custom");
    }

    #[test]
    fn typed_times_are_utc_and_bad_fields_are_named() {
        let now = Timestamp(10_000_000_000);
        let request = parse_list(&pairs(&[("from", "2026-12-01T14:05")]), now).unwrap();
        assert_eq!(
            request.query.from.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-12-01T14:05:00.000Z")
        );
        let errors =
            parse_list(&pairs(&[("range", "year"), ("outcome", "maybe")]), now).unwrap_err();
        let names: Vec<&str> = errors.iter().map(|e| e.parameter.as_str()).collect();
        assert_eq!(names, ["range", "outcome"]);
    }
}
