//! The IndexedDB database behind the chunk proxy: verified chunks keyed by their sha256, and
//! the manifests that reference them keyed by URL (stored as their JSON text).
//!
//! Chunks are stored as Blobs: the browser keeps them as files beside the database, a stored
//! chunk answers a request without its bytes passing through wasm, and a Blob's size is known
//! without reading it.

use crate::global::error_name;
use idb::{Database, Factory, ObjectStore, ObjectStoreParams, TransactionMode, TransactionResult};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, IdbDatabase, IdbTransaction};

const DB_NAME: &str = "hearth-models";
const DB_VERSION: u32 = 1;
const MANIFESTS: &str = "manifests";
const CHUNKS: &str = "chunks";

thread_local! {
    /// One connection for the service worker's lifetime (it is reopened after a restart).
    static OPEN: RefCell<Option<Rc<Database>>> = const { RefCell::new(None) };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The browser's quota for this origin is exhausted (QuotaExceededError).
    Full,
    Failed(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => write!(f, "storage is full"),
            Self::Failed(m) => write!(f, "IndexedDB failed: {m}"),
        }
    }
}

impl From<idb::Error> for StoreError {
    fn from(e: idb::Error) -> Self {
        match &e {
            idb::Error::DomException(d) if d.name() == "QuotaExceededError" => Self::Full,
            idb::Error::UpdateFailed(v)
                if error_name(v).as_deref() == Some("QuotaExceededError") =>
            {
                Self::Full
            }
            _ => Self::Failed(e.to_string()),
        }
    }
}

fn aborted(transaction: IdbTransaction) -> StoreError {
    match transaction.error() {
        Some(e) if e.name() == "QuotaExceededError" => StoreError::Full,
        Some(e) => StoreError::Failed(format!(
            "transaction aborted: {}: {}",
            e.name(),
            e.message()
        )),
        None => StoreError::Failed("transaction aborted".into()),
    }
}

/// Waits until a read-write transaction is durable; an abort (quota) is an error.
async fn commit(transaction: idb::Transaction, store: &ObjectStore) -> Result<(), StoreError> {
    match transaction.await? {
        TransactionResult::Committed => Ok(()),
        TransactionResult::Aborted => Err(aborted(store.transaction().into())),
    }
}

fn key(s: &str) -> JsValue {
    JsValue::from_str(s)
}

#[derive(Clone)]
pub struct ChunkStore {
    db: Rc<Database>,
}

impl ChunkStore {
    pub async fn open() -> Result<Self, StoreError> {
        if let Some(db) = OPEN.with(|o| o.borrow().clone()) {
            return Ok(Self { db });
        }
        let factory = Factory::new()?;
        let mut request = factory.open(DB_NAME, Some(DB_VERSION))?;
        request.on_upgrade_needed(|event| {
            use idb::DatabaseEvent;
            // Version 1 is the only schema: create what is missing. A failure here fails the
            // open request, which the caller reports.
            if let Ok(db) = event.database() {
                let names = db.store_names();
                for name in [MANIFESTS, CHUNKS] {
                    if !names.iter().any(|n| n == name) {
                        let _ = db.create_object_store(name, ObjectStoreParams::new());
                    }
                }
            }
        });
        let mut db = request.await?;
        // A newer schema elsewhere (another version of the app) must not be blocked by us, and
        // a connection the browser closed (site data cleared) is reopened on next use.
        db.on_version_change(|event| {
            if let Some(db) = event
                .target()
                .and_then(|t| t.dyn_into::<IdbDatabase>().ok())
            {
                db.close();
            }
            OPEN.with(|o| o.borrow_mut().take());
        });
        db.on_close(|_| {
            OPEN.with(|o| o.borrow_mut().take());
        });
        let db = Rc::new(db);
        // Two requests may have opened at once; keep the first connection.
        let db = OPEN.with(|o| o.borrow_mut().get_or_insert(db).clone());
        Ok(Self { db })
    }

    fn store(
        &self,
        names: &[&str],
        name: &str,
        mode: TransactionMode,
    ) -> Result<(idb::Transaction, ObjectStore), StoreError> {
        let transaction = self.db.transaction(names, mode)?;
        let store = transaction.object_store(name)?;
        Ok((transaction, store))
    }

    /// The stored JSON text of the manifest at `url`.
    pub async fn manifest(&self, url: &str) -> Result<Option<String>, StoreError> {
        let (_t, store) = self.store(&[MANIFESTS], MANIFESTS, TransactionMode::ReadOnly)?;
        Ok(store.get(key(url))?.await?.and_then(|v| v.as_string()))
    }

    /// Every stored manifest: (URL, JSON text).
    pub async fn manifests(&self) -> Result<Vec<(String, String)>, StoreError> {
        let (_t, store) = self.store(&[MANIFESTS], MANIFESTS, TransactionMode::ReadOnly)?;
        let keys = store.get_all_keys(None, None)?.await?;
        let values = store.get_all(None, None)?.await?;
        Ok(keys
            .into_iter()
            .zip(values)
            .filter_map(|(k, v)| Some((k.as_string()?, v.as_string()?)))
            .collect())
    }

    pub async fn put_manifest(&self, url: &str, text: &str) -> Result<(), StoreError> {
        let (t, store) = self.store(&[MANIFESTS], MANIFESTS, TransactionMode::ReadWrite)?;
        store.put(&key(text), Some(&key(url)))?;
        commit(t, &store).await
    }

    /// The stored chunk with this sha256.
    pub async fn chunk(&self, sha256: &str) -> Result<Option<Blob>, StoreError> {
        let (_t, store) = self.store(&[CHUNKS], CHUNKS, TransactionMode::ReadOnly)?;
        Ok(store
            .get(key(sha256))?
            .await?
            .and_then(|v| v.dyn_into::<Blob>().ok()))
    }

    /// The sha256 of every stored chunk.
    pub async fn chunk_keys(&self) -> Result<HashSet<String>, StoreError> {
        let (_t, store) = self.store(&[CHUNKS], CHUNKS, TransactionMode::ReadOnly)?;
        Ok(store
            .get_all_keys(None, None)?
            .await?
            .into_iter()
            .filter_map(|k| k.as_string())
            .collect())
    }

    /// Stores a verified chunk. Either all of it is stored or, on any failure (a full quota
    /// aborts the transaction), none of it.
    pub async fn put_chunk(&self, sha256: &str, blob: &Blob) -> Result<(), StoreError> {
        let (t, store) = self.store(&[CHUNKS], CHUNKS, TransactionMode::ReadWrite)?;
        store.put(blob, Some(&key(sha256)))?;
        commit(t, &store).await
    }

    /// The size in bytes of each stored chunk among `sha256s` (absent ones are skipped).
    pub async fn chunk_sizes(&self, sha256s: &[String]) -> Result<Vec<(String, u64)>, StoreError> {
        let (_t, store) = self.store(&[CHUNKS], CHUNKS, TransactionMode::ReadOnly)?;
        let mut sizes = Vec::new();
        for h in sha256s {
            if let Some(blob) = store
                .get(key(h))?
                .await?
                .and_then(|v| v.dyn_into::<Blob>().ok())
            {
                sizes.push((h.clone(), blob.size() as u64));
            }
        }
        Ok(sizes)
    }

    /// Forgets the manifest at `manifest_url` (if given) and deletes `chunks`, in one
    /// transaction: a model is never left half-evicted.
    pub async fn evict(
        &self,
        manifest_url: Option<&str>,
        chunks: &[String],
    ) -> Result<(), StoreError> {
        let transaction = self
            .db
            .transaction(&[MANIFESTS, CHUNKS], TransactionMode::ReadWrite)?;
        let manifests = transaction.object_store(MANIFESTS)?;
        let stored = transaction.object_store(CHUNKS)?;
        if let Some(url) = manifest_url {
            manifests.delete(key(url))?;
        }
        for h in chunks {
            stored.delete(key(h))?;
        }
        commit(transaction, &stored).await
    }

    /// Forgets every manifest and deletes every chunk, in one transaction.
    pub async fn clear(&self) -> Result<(), StoreError> {
        let transaction = self
            .db
            .transaction(&[MANIFESTS, CHUNKS], TransactionMode::ReadWrite)?;
        let manifests = transaction.object_store(MANIFESTS)?;
        let stored = transaction.object_store(CHUNKS)?;
        manifests.clear()?;
        stored.clear()?;
        commit(transaction, &stored).await
    }
}
