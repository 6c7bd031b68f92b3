//! The types the page (`app`), the engine worker (`worker`) and the service worker (`sw`)
//! exchange. One definition, serialized with serde on both ends (serde-wasm-bindgen in the
//! browser, serde_json on disk).

pub mod assets;
pub mod config;
pub mod embed;
pub mod manifest;
pub mod service_worker;
pub mod worker;

pub use assets::{AssetEntry, AssetList};
pub use config::DeployConfig;
pub use embed::{EmbedAllowlist, EmbedMessage, EmbedState, HostMessage, PromptOptions, RequestId};
pub use manifest::{CatalogEntry, ChunkEntry, ModelCatalog, ModelFacts, ModelManifest};
pub use service_worker::{CachedModel, SwEvent, SwReply, SwRequest};
pub use worker::{
    AdapterSummary, Backend, ChatMessage, ErrorKind, Fallback, FallbackReason, FromWorker,
    GenerateSettings, GenerationStats, LoadStage, RunsOn, StopReason, ToWorker,
};
