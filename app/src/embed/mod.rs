//! The embed (`embed.html`): a compact chat for an iframe. It loads the deployment's default
//! model, answers its own prompt box, and answers host pages on the allowlist through
//! postMessage (`hearth:*` messages, see `hearth_protocol::embed` and docs/EMBED.md).

mod host;
mod reply;
mod view;

use hearth_protocol::{DeployConfig, EmbedAllowlist, EmbedMessage, EmbedState, FromWorker};
use js_sys::Function;
use wasm_bindgen::prelude::*;

/// Tells the view and every host listening where the engine stands.
fn report(status: EmbedMessage) {
    view::show_status(&status);
    host::broadcast(&status);
    reply::set_ready(matches!(
        status,
        EmbedMessage::Status {
            state: EmbedState::Ready,
            ..
        }
    ));
}

pub async fn start() -> Result<(), JsValue> {
    view::init()?;
    let config = crate::models::deploy_config().await.unwrap_or_else(|e| {
        web_sys::console::warn_2(&"using the default configuration:".into(), &e);
        DeployConfig::default()
    });
    let (allowlist, rejected) = EmbedAllowlist::new(&config.embed_origins);
    for r in rejected {
        web_sys::console::warn_1(
            &format!("embed_origins entry {r:?} is not an origin; it is ignored").into(),
        );
    }
    host::listen(allowlist)?;

    match run(&config).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let message = crate::dom::js_error_text(&e);
            report(EmbedMessage::status(EmbedState::Error, message));
            Err(e)
        }
    }
}

async fn run(config: &DeployConfig) -> Result<(), JsValue> {
    report(EmbedMessage::status(EmbedState::Loading, "Starting…"));
    if let Err(e) = crate::service_worker::register_and_wait_for_control().await {
        // Without it the model is downloaded again on every visit, but the embed still works.
        web_sys::console::warn_2(&"no service worker:".into(), &e);
    }
    crate::browser::start_engine(|| {
        report(EmbedMessage::status(
            EmbedState::Waiting,
            "Hearth is running in another tab. It starts here when that tab closes.",
        ))
    })
    .await?;

    let models = crate::models::catalog_of(config).await?;
    let model = models
        .iter()
        .find(|m| !config.embed_model.is_empty() && m.id == config.embed_model)
        .or_else(|| models.first())
        .ok_or("the deployment offers no model")?;
    report(EmbedMessage::status(
        EmbedState::Loading,
        format!("Loading {}…", model.model.name),
    ));
    let on_event = Closure::<dyn FnMut(JsValue)>::new(|event: JsValue| {
        if let Ok(FromWorker::LoadProgress {
            stage,
            bytes_done,
            bytes_total,
            ..
        }) = serde_wasm_bindgen::from_value(event)
        {
            report(EmbedMessage::Status {
                state: EmbedState::Loading,
                stage: Some(stage),
                bytes_done: Some(bytes_done),
                bytes_total: Some(bytes_total),
                message: None,
            });
        }
    });
    let on_event_fn: Function = on_event.as_ref().clone().unchecked_into();
    let loaded = crate::browser::load_model(
        model.manifest_url.clone(),
        Some(on_event_fn),
        JsValue::UNDEFINED,
    )
    .await;
    drop(on_event);
    loaded?;
    report(EmbedMessage::status(
        EmbedState::Ready,
        format!("{} is ready.", model.model.name),
    ));
    Ok(())
}
