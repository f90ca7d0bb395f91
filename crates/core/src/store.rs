//! The storage seam: one small trait per store operation. Adapters (`auditlog-local` for SQLite,
//! later DynamoDB) implement them; the HTTP layer and the CLI depend only on these traits.

use async_trait::async_trait;

use crate::cursor::Position;
use crate::event::Event;
use crate::export::{Destination, ExportState};
use crate::keys::KeyRecord;
use crate::query::EventQuery;
use crate::stream::delivery::StreamState;
use crate::time::Timestamp;
use crate::validate::PreparedEvent;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused the write; retrying the same request is safe.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A record already exists (for example a key id collision).
    #[error("already exists: {0}")]
    Conflict(String),
    /// Stored data could not be read back as expected.
    #[error("store data error: {0}")]
    Corrupt(String),
}

/// An event ready to store: the typed form (for index fields), its stored JSON and its receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The typed fields the stores index. An ingested event's free-form objects (`metadata`,
    /// `request.params`) are not here (see `PreparedEvent::event`): `json` holds the event whole.
    pub event: Event,
    pub json: String,
    /// The receipt of `json` (`crate::integrity::receipt`), stored beside it so that the exporter
    /// copies it rather than computing it again. `None`: the exporter computes it.
    pub receipt: Option<String>,
    /// After this instant the event is gone: never returned, and purged by retention.
    pub expires_at: Timestamp,
}

impl NewEvent {
    /// An event the service writes itself (a self-audit record): its JSON and receipt from it.
    pub fn new(event: Event, expires_at: Timestamp) -> NewEvent {
        let (json, receipt) = match crate::integrity::stored_and_receipt(&event) {
            Ok((json, receipt)) => (json, Some(receipt)),
            // The exporter computes what is missing.
            Err(_) => (event.to_json(), None),
        };
        NewEvent {
            json,
            receipt,
            event,
            expires_at,
        }
    }

    /// A validated client event, with the receipt ingest computed.
    pub fn prepared(prepared: PreparedEvent, expires_at: Timestamp) -> NewEvent {
        NewEvent {
            event: prepared.event,
            json: prepared.json,
            receipt: Some(prepared.receipt),
            expires_at,
        }
    }
}

/// Per-event result of an append, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendStatus {
    /// Durably stored now.
    Stored,
    /// An event with this id is already retained for the tenant (from this request or an
    /// earlier one); nothing new was stored.
    Duplicate,
    /// Not stored; the message says why. Retrying the item is safe.
    Failed(String),
}

#[async_trait]
pub trait AppendEvents: Send + Sync {
    /// Stores `events` for `tenant`, keeping the first of any `id` seen. Returns when every
    /// `Stored` event is durable. `Err` means nothing was stored.
    async fn append_events(
        &self,
        tenant: &str,
        events: &[NewEvent],
        now: Timestamp,
    ) -> Result<Vec<AppendStatus>, StoreError>;
}

/// A stored event as a query returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub position: Position,
    pub json: String,
    /// The receipt stored with the event; `None` for events stored before receipts were kept
    /// (the exporter computes theirs).
    pub receipt: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PageRequest<'a> {
    pub tenant: &'a str,
    pub query: &'a EventQuery,
    /// Return only events strictly after this position in the query's order.
    pub after: Option<&'a Position>,
    /// Events whose `expires_at` is at or before `now` are never returned.
    pub now: Timestamp,
}

#[async_trait]
pub trait QueryEvents: Send + Sync {
    /// Up to `query.limit + 1` matching events in order; the extra one tells that a next page
    /// exists.
    async fn query_events(&self, request: PageRequest<'_>) -> Result<Vec<StoredEvent>, StoreError>;
}

#[async_trait]
pub trait GetEvent: Send + Sync {
    async fn get_event(
        &self,
        tenant: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError>;
}

/// API keys. Every change takes its self-audit record (`crate::self_audit`), an event of the
/// record's tenant that the store writes atomically with the change: after a crash both are
/// stored or neither is. When the change does not apply (a conflict, no such key), the record is
/// not written either.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key; `Conflict` if its id exists.
    async fn create_key(&self, record: &KeyRecord, audit: &NewEvent) -> Result<(), StoreError>;
    async fn find_key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError>;
    async fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<KeyRecord>, StoreError>;
    /// Marks the key revoked (keeping the first revocation time); `false` when no such key
    /// exists.
    async fn revoke_key(
        &self,
        key_id: &str,
        at: Timestamp,
        audit: &NewEvent,
    ) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait PurgeExpired: Send + Sync {
    /// Deletes events whose `expires_at` is at or before `now`; returns how many.
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// Viewer sessions of the console (`crate::viewer`). Changes are written with their self-audit
/// record, as for [`ApiKeyStore`].
#[async_trait]
pub trait ViewerSessionStore: Send + Sync {
    /// Stores a new session; `Conflict` if its id exists.
    async fn create_viewer_session(
        &self,
        session: &crate::viewer::ViewerSession,
        audit: &NewEvent,
    ) -> Result<(), StoreError>;
    async fn find_viewer_session(
        &self,
        id: &str,
    ) -> Result<Option<crate::viewer::ViewerSession>, StoreError>;
    /// Stores `opened` (the session with `opened_at` and `cookie_hash` set) if the stored one
    /// was not opened yet; `false` when it was: a link opens the console once, even when two
    /// openings race.
    async fn open_viewer_session(
        &self,
        opened: &crate::viewer::ViewerSession,
        audit: &NewEvent,
    ) -> Result<bool, StoreError>;
}

/// Everything the API needs from a store.
pub trait Store:
    AppendEvents + QueryEvents + GetEvent + ApiKeyStore + PurgeExpired + ViewerSessionStore
{
}

impl<T> Store for T where
    T: AppendEvents + QueryEvents + GetEvent + ApiKeyStore + PurgeExpired + ViewerSessionStore
{
}

/// A tenant's export destinations. Changes are written with their self-audit record, as for
/// [`ApiKeyStore`].
#[async_trait]
pub trait DestinationStore: Send + Sync {
    /// Stores a new destination; `Conflict` if its id exists.
    async fn add_destination(
        &self,
        destination: &Destination,
        audit: &NewEvent,
    ) -> Result<(), StoreError>;
    async fn list_destinations(&self, tenant: Option<&str>)
    -> Result<Vec<Destination>, StoreError>;
    /// `false` when no such destination exists. Its export state stays (for the record).
    async fn remove_destination(&self, id: &str, audit: &NewEvent) -> Result<bool, StoreError>;
}

/// The export state of each destination, changed only by compare-and-set on its version.
#[async_trait]
pub trait ExportStateStore: Send + Sync {
    /// The stored state, or a fresh one (version 0) for a destination never exported.
    async fn export_state(&self, destination_id: &str) -> Result<ExportState, StoreError>;
    /// Stores `next` if the stored version is still `expected_version` (0: nothing stored yet);
    /// `next.version` must be `expected_version + 1`. `false` when someone else got there first.
    async fn save_export_state(
        &self,
        next: &ExportState,
        expected_version: u64,
    ) -> Result<bool, StoreError>;
    /// A person's change (pause, resume): stored as [`Self::save_export_state`] does, with its
    /// self-audit record, atomically; neither is written when the version moved.
    async fn change_export_state(
        &self,
        next: &ExportState,
        expected_version: u64,
        audit: &NewEvent,
    ) -> Result<bool, StoreError>;
}

/// The rule every [`ExportStateStore::save_export_state`] applies first: a new state is exactly
/// one version after the one it replaces.
pub fn check_next_version(next_version: u64, expected_version: u64) -> Result<(), StoreError> {
    if next_version == expected_version + 1 {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "state version {next_version} does not follow {expected_version}"
        )))
    }
}

/// The delivery state of each stream destination (`crate::stream::delivery`), changed only by
/// compare-and-set on its version, as export states are.
#[async_trait]
pub trait StreamStateStore: Send + Sync {
    /// The stored state, or a fresh one (version 0) for a stream that never ran.
    async fn stream_state(&self, destination_id: &str) -> Result<StreamState, StoreError>;
    /// Stores `next` if the stored version is still `expected_version` (0: nothing stored yet);
    /// `false` when someone else got there first.
    async fn save_stream_state(
        &self,
        next: &StreamState,
        expected_version: u64,
    ) -> Result<bool, StoreError>;
    /// A person's change (pause, resume, replay): stored as [`Self::save_stream_state`] does,
    /// with its self-audit record, atomically; neither is written when the version moved.
    async fn change_stream_state(
        &self,
        next: &StreamState,
        expected_version: u64,
        audit: &NewEvent,
    ) -> Result<bool, StoreError>;
}

/// How many times a person's change is tried against a state that keeps moving (an export or
/// delivery pass saves the state after every window or batch).
pub const CHANGE_ATTEMPTS: usize = 8;

/// A person's change to a stream's delivery state (pause, resume, replay): `change` applied to
/// the stored state and written with its record by compare-and-set, read again and retried
/// when a pass moved the version in between. `false` when it moved at every attempt.
pub async fn change_stream<S: StreamStateStore + ?Sized>(
    store: &S,
    destination_id: &str,
    change: impl Fn(&StreamState) -> StreamState,
    audit: &NewEvent,
) -> Result<bool, StoreError> {
    for _ in 0..CHANGE_ATTEMPTS {
        let stored = store.stream_state(destination_id).await?;
        if store
            .change_stream_state(&change(&stored), stored.version, audit)
            .await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The same for an object store's export state (pause, resume).
pub async fn change_export<S: ExportStateStore + ?Sized>(
    store: &S,
    destination_id: &str,
    change: impl Fn(&ExportState) -> ExportState,
    audit: &NewEvent,
) -> Result<bool, StoreError> {
    for _ in 0..CHANGE_ATTEMPTS {
        let stored = store.export_state(destination_id).await?;
        if store
            .change_export_state(&change(&stored), stored.version, audit)
            .await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The keys that sign digests. Keys are only ever added: digests signed by a retired key stay
/// in customers' buckets and must keep verifying against its published public key.
#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Stores a new key; `Conflict` if its id exists.
    async fn add_signing_key(
        &self,
        key: &crate::signing::SigningKeyRecord,
    ) -> Result<(), StoreError>;
    /// Every key, oldest activation first.
    async fn signing_keys(&self) -> Result<Vec<crate::signing::SigningKeyRecord>, StoreError>;
}

/// Everything the exporter needs from a store.
pub trait ExportStore:
    QueryEvents + DestinationStore + ExportStateStore + StreamStateStore + SigningKeyStore
{
}

impl<T> ExportStore for T where
    T: QueryEvents + DestinationStore + ExportStateStore + StreamStateStore + SigningKeyStore
{
}

/// Everything a service host needs (the API with its admin routes, the CLI, the exporter).
pub trait ServiceStore: Store + ExportStore {}

impl<T: Store + ExportStore> ServiceStore for T {}
