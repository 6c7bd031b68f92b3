//! Fetching from the worker (through the service worker, which caches model chunks): whole
//! texts, and bodies read piece by piece as they arrive.

use super::errors::Failure;
use hearth_protocol::ErrorKind;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response};

fn network(message: String) -> Failure {
    Failure::new(ErrorKind::Network, message)
}

fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// A successful response for `url`, or a failure with the server's (or the service
/// worker's) explanation.
pub async fn get(url: &str, what: &str) -> Result<Response, Failure> {
    let promise = super::scope().fetch_with_str(url);
    let response: Response = JsFuture::from(promise)
        .await
        .map_err(|e| {
            network(format!(
                "could not download {what}: {} (are you offline?)",
                describe(&e)
            ))
        })?
        .unchecked_into();
    if !response.ok() {
        let body = match response.text() {
            Ok(p) => JsFuture::from(p)
                .await
                .ok()
                .and_then(|t| t.as_string())
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        let kind = if response.status() == 507 {
            ErrorKind::Storage
        } else {
            ErrorKind::Network
        };
        let detail = body.trim();
        return Err(Failure::new(
            kind,
            format!(
                "downloading {what} failed: HTTP {} {}{}{}",
                response.status(),
                response.status_text(),
                if detail.is_empty() { "" } else { ": " },
                detail.chars().take(300).collect::<String>()
            ),
        ));
    }
    Ok(response)
}

/// The body of `url` as text, at most `limit` bytes.
pub async fn text(url: &str, what: &str, limit: usize) -> Result<String, Failure> {
    let response = get(url, what).await?;
    let mut bytes = Vec::new();
    read_body(&response, what, |piece| {
        if bytes.len() + piece.len() > limit {
            return Err(Failure::new(
                ErrorKind::Model,
                format!("{what} is larger than {limit} bytes"),
            ));
        }
        bytes.extend_from_slice(piece);
        Ok(())
    })
    .await?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::new(ErrorKind::Model, format!("{what} is not UTF-8 text")))
}

/// Hands the body's bytes to `on_piece` as they arrive; stops at the first error it returns.
pub async fn read_body(
    response: &Response,
    what: &str,
    mut on_piece: impl FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<u64, Failure> {
    let Some(body) = response.body() else {
        return Ok(0);
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut buffer = Vec::new();
    let mut total = 0u64;
    loop {
        let step = JsFuture::from(reader.read()).await.map_err(|e| {
            network(format!(
                "the download of {what} broke off: {}",
                describe(&e)
            ))
        })?;
        let done = Reflect::get(&step, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            return Ok(total);
        }
        let value = Reflect::get(&step, &"value".into()).unwrap_or(JsValue::UNDEFINED);
        let piece: Uint8Array = value.unchecked_into();
        buffer.resize(piece.length() as usize, 0);
        piece.copy_to(&mut buffer);
        total += buffer.len() as u64;
        if let Err(f) = on_piece(&buffer) {
            let _ = reader.cancel();
            return Err(f);
        }
    }
}
