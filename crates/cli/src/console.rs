//! `auditlog console --tenant T`: a one-time console link made straight in the store, for an
//! operator who holds no API key (local mode: one command after `auditlog serve`).

use anyhow::bail;
use auditlog_core::keys::validate_tenant;
use auditlog_core::self_audit::session_issued;
use auditlog_core::store::ViewerSessionStore;
use auditlog_core::viewer::{FixedFilter, SessionRequest, check_request, issue};
use auditlog_http::viewer_link_path;
use clap::Args;

use crate::operator::{Recorder, now};

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    #[arg(long)]
    tenant: String,
    /// The service the link points at.
    #[arg(long, env = "AUDITLOG_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// How long the session lasts once issued (at most 12h).
    #[arg(long, default_value = "1h", value_parser = auditlog_settings::parse_duration)]
    expires_in: std::time::Duration,
    /// Also show the tenant's export destinations.
    #[arg(long)]
    admin: bool,
    /// The person the link is for, shown on the pages.
    #[arg(long)]
    display_name: Option<String>,
    /// Limit the session to an action (`billing.paid`) or a prefix (`billing.*`).
    #[arg(long)]
    action: Option<String>,
    /// Limit the session to one actor.
    #[arg(long)]
    actor_id: Option<String>,
}

pub async fn run(
    store: &dyn ViewerSessionStore,
    recorder: &Recorder,
    args: ConsoleArgs,
) -> anyhow::Result<()> {
    validate_tenant(&args.tenant).map_err(anyhow::Error::msg)?;
    let request = SessionRequest {
        tenant: args.tenant,
        filter: FixedFilter {
            action: args.action,
            actor_id: args.actor_id,
            ..FixedFilter::default()
        },
        display_name: args.display_name,
        admin: args.admin,
        issued_by: recorder.caller().reference(),
        lifetime_ms: i64::try_from(args.expires_in.as_millis()).unwrap_or(i64::MAX),
    };
    let problems = check_request(&request);
    if let Some(first) = problems.first() {
        let flag = first
            .parameter
            .trim_start_matches('/')
            .replace("filter/", "")
            .replace('_', "-");
        bail!("--{flag}: {}", first.message);
    }
    let issued = issue(request, rand::random(), rand::random(), now());
    let record = recorder.event(
        &issued.session.tenant,
        session_issued(recorder.caller(), &issued.session),
    );
    store
        .create_viewer_session(&issued.session, &record)
        .await?;
    println!(
        "{}{}",
        args.url.trim_end_matches('/'),
        viewer_link_path(&issued.link_token)
    );
    eprintln!(
        "opens the console once, until {}",
        issued.session.expires_at.to_rfc3339()
    );
    Ok(())
}
