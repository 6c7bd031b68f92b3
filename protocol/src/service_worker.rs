//! Control messages between a page and the service worker, and the events it broadcasts.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SwRequest {
    /// Which app-shell version the service worker serves.
    GetVersion,
    /// The page accepts a waiting update: activate now.
    SkipWaiting,
    /// Which models' chunks are stored.
    CacheStatus,
    /// `navigator.storage.estimate()` as the service worker sees it.
    StorageEstimate,
    /// Delete the chunks of the model at `manifest_url` that no other known model uses, and
    /// forget its manifest.
    EvictModel { manifest_url: String },
    /// Delete stored chunks that no known manifest references.
    EvictUnreferenced,
    /// Delete every stored chunk and forget every manifest ("delete all data").
    EvictAll,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SwReply {
    Version { version: String },
    CacheStatus { models: Vec<CachedModel> },
    StorageEstimate { usage: u64, quota: u64 },
    Evicted { chunks: u32, bytes: u64 },
    Error { message: String },
}

/// A known model and how much of it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedModel {
    pub manifest_url: String,
    pub name: String,
    pub chunks_total: u32,
    pub chunks_stored: u32,
    pub bytes_total: u64,
    pub bytes_stored: u64,
}

/// Broadcast by the service worker to every window client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SwEvent {
    /// A chunk of the model at `manifest_url` was verified and stored.
    ChunkStored {
        manifest_url: String,
        chunk: String,
        bytes_stored: u64,
        bytes_total: u64,
    },
    /// A chunk could not be stored (bad hash after retries, quota, network).
    ChunkFailed {
        manifest_url: String,
        chunk: String,
        message: String,
    },
}
