//! Hooks of the dev server for the browser tests (`serve --test-hooks`), on the model routes
//! of either origin. Not for hosting models: anyone who can reach the server can use them.
//!
//! - `GET /__test/requests`: JSON object, request count per model file path (relative to
//!   the model base, e.g. `smol/net_part0.gguf.chunk`) since the last reset.
//! - `POST /__test/reset`: clears those counts.
//! - `POST /__test/faults` with `{"corrupt": {"FILE": N}, "cut": {"FILE": N}}`: the next N
//!   successful responses for FILE (a path as above, or just its file name) are corrupted
//!   (one byte flipped, same length) or cut (about half the body is sent, then the connection
//!   is aborted). Each POST replaces the faults still pending.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Clone, Default)]
pub struct TestHooks {
    state: Arc<Mutex<HookState>>,
}

#[derive(Default)]
struct HookState {
    requests: BTreeMap<String, u64>,
    faults: Faults,
}

/// Responses to spoil, by path or file name: how many of the next ones.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Faults {
    #[serde(default)]
    corrupt: HashMap<String, u32>,
    #[serde(default)]
    cut: HashMap<String, u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Corrupt,
    Cut,
}

/// Takes one pending fault for `path` (or its file name), if any.
fn take(pending: &mut HashMap<String, u32>, path: &str, file: &str) -> bool {
    for key in [path, file] {
        if let Some(n) = pending.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                pending.remove(key);
            }
            return true;
        }
    }
    false
}

impl TestHooks {
    fn state(&self) -> MutexGuard<'_, HookState> {
        // A panic elsewhere cannot leave these counters inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request and picks the fault its response gets.
    fn record(&self, path: &str) -> Option<Fault> {
        let file = path.rsplit('/').next().unwrap_or(path);
        let mut state = self.state();
        *state.requests.entry(path.to_string()).or_default() += 1;
        let faults = &mut state.faults;
        if take(&mut faults.corrupt, path, file) {
            Some(Fault::Corrupt)
        } else if take(&mut faults.cut, path, file) {
            Some(Fault::Cut)
        } else {
            None
        }
    }

    /// The model file routes with every request counted (and maybe spoiled), plus the hook
    /// endpoints, which are not counted.
    pub fn wrap(&self, files: Router) -> Router {
        let endpoints = Router::new()
            .route("/__test/requests", get(requests))
            .route("/__test/reset", post(reset))
            .route("/__test/faults", post(set_faults))
            .with_state(self.clone());
        files
            .layer(middleware::from_fn_with_state(self.clone(), observe))
            .merge(endpoints)
    }
}

async fn requests(State(hooks): State<TestHooks>) -> Json<BTreeMap<String, u64>> {
    Json(hooks.state().requests.clone())
}

async fn reset(State(hooks): State<TestHooks>) -> StatusCode {
    hooks.state().requests.clear();
    StatusCode::NO_CONTENT
}

async fn set_faults(State(hooks): State<TestHooks>, Json(faults): Json<Faults>) -> StatusCode {
    hooks.state().faults = Faults {
        corrupt: faults.corrupt.into_iter().filter(|(_, n)| *n > 0).collect(),
        cut: faults.cut.into_iter().filter(|(_, n)| *n > 0).collect(),
    };
    StatusCode::NO_CONTENT
}

async fn observe(State(hooks): State<TestHooks>, request: Request, next: Next) -> Response {
    // CORS preflights are not requests for the file.
    let fault = if request.method() == Method::OPTIONS {
        None
    } else {
        hooks.record(request.uri().path().trim_start_matches('/'))
    };
    let response = next.run(request).await;
    match fault {
        Some(fault) if response.status() == StatusCode::OK => spoil(fault, response).await,
        _ => response,
    }
}

async fn spoil(fault: Fault, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let body = match fault {
        Fault::Corrupt => {
            let mut bytes = bytes.to_vec();
            let middle = bytes.len() / 2;
            if let Some(b) = bytes.get_mut(middle) {
                *b ^= 0xff;
            }
            Body::from(bytes)
        }
        // Content-Length still promises the whole file: the client sees the connection
        // drop mid-body.
        Fault::Cut => Body::from_stream(futures_util::stream::iter([
            Ok(bytes.slice(..bytes.len() / 2)),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "connection cut by the test hook",
            )),
        ])),
    };
    Response::from_parts(parts, body)
}

/// The bytes of a body up to its end or its first error, and whether it failed.
#[cfg(test)]
pub(crate) async fn collect_until_error(body: Body) -> (Vec<u8>, bool) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut got = Vec::new();
    while let Some(frame) = stream.next().await {
        match frame {
            Ok(b) => got.extend_from_slice(&b),
            Err(_) => return (got, true),
        }
    }
    (got, false)
}
