//! The app's own IndexedDB database (apart from the service worker's model store):
//! conversations, each stored as its JSON text under its id.

use super::conversation::{sort_newest_first, Conversation};
use idb::{Database, Factory, ObjectStoreParams, TransactionMode, TransactionResult};
use std::cell::RefCell;
use std::rc::Rc;

const DB_NAME: &str = "hearth-app";
const DB_VERSION: u32 = 1;
const CONVERSATIONS: &str = "conversations";

thread_local! {
    static OPEN: RefCell<Option<Rc<Database>>> = const { RefCell::new(None) };
}

fn failed(e: idb::Error) -> String {
    format!("the browser's database failed: {e}")
}

async fn open() -> Result<Rc<Database>, String> {
    if let Some(db) = OPEN.with(|o| o.borrow().clone()) {
        return Ok(db);
    }
    let factory = Factory::new().map_err(failed)?;
    let mut request = factory.open(DB_NAME, Some(DB_VERSION)).map_err(failed)?;
    request.on_upgrade_needed(|event| {
        use idb::DatabaseEvent;
        if let Ok(db) = event.database() {
            if !db.store_names().iter().any(|n| n == CONVERSATIONS) {
                let _ = db.create_object_store(CONVERSATIONS, ObjectStoreParams::new());
            }
        }
    });
    let mut db = request.await.map_err(failed)?;
    db.on_version_change(|_| {
        OPEN.with(|o| {
            if let Some(db) = o.borrow_mut().take() {
                db.close();
            }
        });
    });
    let db = Rc::new(db);
    Ok(OPEN.with(|o| o.borrow_mut().get_or_insert(db).clone()))
}

async fn write(f: impl FnOnce(&idb::ObjectStore) -> Result<(), idb::Error>) -> Result<(), String> {
    let db = open().await?;
    let transaction = db
        .transaction(&[CONVERSATIONS], TransactionMode::ReadWrite)
        .map_err(failed)?;
    let store = transaction.object_store(CONVERSATIONS).map_err(failed)?;
    f(&store).map_err(failed)?;
    match transaction.await.map_err(failed)? {
        TransactionResult::Committed => Ok(()),
        TransactionResult::Aborted => Err("saving was aborted (is the disk full?)".into()),
    }
}

/// Every stored conversation, newest first. Entries that cannot be read are skipped.
pub async fn all() -> Result<Vec<Conversation>, String> {
    let db = open().await?;
    let transaction = db
        .transaction(&[CONVERSATIONS], TransactionMode::ReadOnly)
        .map_err(failed)?;
    let store = transaction.object_store(CONVERSATIONS).map_err(failed)?;
    let values = store
        .get_all(None, None)
        .map_err(failed)?
        .await
        .map_err(failed)?;
    let mut list: Vec<Conversation> = values
        .into_iter()
        .filter_map(|v| serde_json::from_str(&v.as_string()?).ok())
        .collect();
    sort_newest_first(&mut list);
    Ok(list)
}

pub async fn put(conversation: &Conversation) -> Result<(), String> {
    let text = serde_json::to_string(conversation).map_err(|e| e.to_string())?;
    let key = conversation.id.clone();
    write(move |store| {
        store.put(&text.into(), Some(&key.into()))?;
        Ok(())
    })
    .await
}

pub async fn delete(id: &str) -> Result<(), String> {
    let key = id.to_string();
    write(move |store| {
        store.delete(wasm_bindgen::JsValue::from(key))?;
        Ok(())
    })
    .await
}

pub async fn clear() -> Result<(), String> {
    write(|store| {
        store.clear()?;
        Ok(())
    })
    .await
}
