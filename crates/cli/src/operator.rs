//! The operator at the CLI as the actor of self-audit records: commands that change a tenant's
//! keys, destinations or viewer sessions straight in the store record who ran them (the OS user
//! and host) in that tenant's log, like the API records the key that asked.

use auditlog_core::Timestamp;
use auditlog_core::self_audit::{Caller, SelfEvent};
use auditlog_core::store::NewEvent;
use clap::Args;

/// How long the records are kept: the service's own retention, so they age like any event.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[arg(long, env = "AUDITLOG_RETENTION", default_value = "90d", value_parser = auditlog_settings::parse_duration)]
    retention: std::time::Duration,
}

/// Makes the records of one CLI command.
pub struct Recorder {
    caller: Caller,
    retention_ms: i64,
}

impl Recorder {
    pub fn new(args: &AuditArgs) -> Recorder {
        Recorder::with_retention(args.retention)
    }

    /// Records kept for `retention` (the service's own setting, where the command has it).
    pub fn with_retention(retention: std::time::Duration) -> Recorder {
        Recorder {
            caller: operator(),
            retention_ms: i64::try_from(retention.as_millis()).unwrap_or(i64::MAX),
        }
    }

    pub fn caller(&self) -> Caller {
        self.caller.clone()
    }

    /// The retention the command's records (and its status readings) go by.
    pub fn retention_ms(&self) -> i64 {
        self.retention_ms
    }

    /// `record` as an event of `tenant`, now, with a fresh id.
    pub fn event(&self, tenant: &str, record: SelfEvent) -> NewEvent {
        record.into_event(
            tenant,
            ulid::Ulid::new().to_string(),
            now(),
            self.retention_ms,
        )
    }
}

pub fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_millis())
}

/// The operating-system user and host running this command.
fn operator() -> Caller {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    Caller::Operator { user, host }
}
