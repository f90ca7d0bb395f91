//! The digest signing keys' lifecycle: the first key is made when the first digest needs one;
//! `rotate` adds a key that signs every period ending from now on. Keys are never deleted (see
//! `auditlog_core::signing`).

use auditlog_core::Timestamp;
use auditlog_core::signing::SigningKeyRecord;
use auditlog_core::store::{SigningKeyStore, StoreError};

/// The signing keys, the first one made if there is none. Two exporters racing here may both
/// add one; `key_in_force` then picks the same one for both from the store.
pub async fn signing_keys(
    store: &dyn SigningKeyStore,
    now: Timestamp,
) -> Result<Vec<SigningKeyRecord>, StoreError> {
    let keys = store.signing_keys().await?;
    if !keys.is_empty() {
        return Ok(keys);
    }
    let first = rotate(store, now).await?;
    tracing::info!(key_id = %first.key_id, "made the first digest signing key");
    store.signing_keys().await
}

/// Adds a fresh key, in force for every period that ends at or after `now`.
pub async fn rotate(
    store: &dyn SigningKeyStore,
    now: Timestamp,
) -> Result<SigningKeyRecord, StoreError> {
    let key = SigningKeyRecord::from_seed(rand::random(), now);
    store.add_signing_key(&key).await?;
    Ok(key)
}
