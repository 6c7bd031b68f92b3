//! Control messages between a page and the service worker.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SwRequest {
    /// Which app-shell version the service worker serves.
    GetVersion,
    /// The page accepts a waiting update: activate now.
    SkipWaiting,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SwReply {
    Version { version: String },
    Error { message: String },
}
