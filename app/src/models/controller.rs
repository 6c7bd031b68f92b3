//! What the models' parts of the page do together: on start, read the catalog and what is
//! stored, pick the remembered model and load it if it is stored (a download waits for the
//! user's click); load, cancel and switch models; open local files; delete stored models;
//! load on the backend the user chose (and again when they choose another).

use super::advice::advise;
use super::backend::{intent_words, Placement};
use super::backend_setting::{self, has_webgpu};
use super::catalog::{cached_models, catalog, check_storage, ModelChoice};
use super::progress::{megabytes, percent, progress_line, stage_words, RateMeter};
use super::readiness::{announce, announce_ready, Readiness};
use super::{load_screen, local_file, picker, storage_panel};
use crate::dom::{listen_id, window};
use hearth_protocol::{
    Backend, CachedModel, ErrorKind, FromWorker, LoadStage, SwRequest, ToWorker,
};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};

/// Where a model comes from, to load it again on another backend.
#[derive(Clone)]
enum Source {
    Catalog(ModelChoice),
    File(web_sys::File),
}

/// The model the engine holds.
struct Loaded {
    id: String,
    name: String,
    /// `None` for a model a script loaded from outside the catalog.
    source: Option<Source>,
}

/// A load in progress.
struct Load {
    epoch: u64,
    /// The engine's request id, known from its first event.
    request: Option<u32>,
    cancel_asked: bool,
    meter: RateMeter,
    stage: Option<LoadStage>,
    from_storage: bool,
    /// Where it was asked to run.
    backend: Backend,
    id: String,
    name: String,
    source: Source,
}

#[derive(Default)]
struct Models {
    catalog: Vec<ModelChoice>,
    stored: Vec<CachedModel>,
    /// The picker's choice: a catalog id or `picker::LOCAL_FILE`.
    selected: Option<String>,
    /// The name of the local file last opened.
    local: Option<String>,
    load: Option<Load>,
    /// Bumped by every load: results of superseded loads are ignored.
    epoch: u64,
    /// The model the engine holds.
    loaded: Option<Loaded>,
    /// The last load, when it failed (a new backend may be what it needs).
    failed: Option<Source>,
}

thread_local! {
    static MODELS: RefCell<Models> = RefCell::new(Models::default());
}

fn with<R>(f: impl FnOnce(&mut Models) -> R) -> R {
    MODELS.with(|m| f(&mut m.borrow_mut()))
}

/// Wires the controls, then reads the catalog and what is stored (in the background).
pub fn start() {
    listen_id("load-download", "click", |_| download_selected());
    listen_id("load-cancel", "click", |_| cancel());
    listen_id("load-reload", "click", |_| {
        let _ = window().location().reload();
    });
    listen_id("model-picker", "change", |_| {
        if let Some(value) = picker::value() {
            choose(value);
        }
    });
    // The chat opens the settings dialog; the stored models are read afresh each time.
    listen_id("settings-button", "click", |_| {
        backend_setting::render(backend_setting::current());
        backend_setting::say("");
        spawn_local(refresh_stored());
    });
    listen_id("stored-models", "click", |e| {
        let manifest = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("button").ok().flatten())
            .and_then(|b| b.get_attribute(storage_panel::MANIFEST_ATTRIBUTE));
        if let Some(url) = manifest {
            spawn_local(delete_stored(url));
        }
    });
    local_file::wire(open_file);
    backend_setting::wire(backend_changed);
    announce(Readiness::None, "", "", None);
    load_screen::idle("Choose a model", "Checking which models are stored…", None);
    spawn_local(initialise());
}

async fn initialise() {
    let models = match catalog().await {
        Ok(models) => models,
        Err(e) => {
            let (kind, message) = error_parts(&e);
            let advice = advise(kind, &message);
            load_screen::idle(
                "No model list",
                &format!(
                    "The list of models could not be read: {message}. {} You can still open a GGUF file from this device.",
                    advice.action
                ),
                None,
            );
            picker::render(&[], &[], None, None);
            return;
        }
    };
    let stored = cached_models().await;
    let remembered = picker::remembered();
    let selected = remembered
        .filter(|id| models.iter().any(|m| &m.id == id))
        .or_else(|| models.first().map(|m| m.id.clone()));
    with(|m| {
        m.catalog = models;
        m.stored = stored;
        m.selected = selected;
    });
    render_picker();
    storage_panel::render(&with(|m| m.stored.clone()));
    spawn_local(storage_panel::render_storage());
    offer_selected();
}

/// Loads the selected model if it is stored (that costs no download); otherwise offers it
/// (a download waits for a click).
fn offer_selected() {
    let selected = selected_choice();
    if refused_without_webgpu(selected.as_ref().map_or("The model", |c| &c.model.name)) {
        return;
    }
    match selected {
        Some(c) if picker::stored(&c, &with(|m| m.stored.clone())).1 => load(c),
        _ => show_choice(None),
    }
}

/// With the GPU setting in a browser without WebGPU, says so (and what to do) instead of
/// loading; `true` then. Automatic and CPU loads run anywhere.
fn refused_without_webgpu(name: &str) -> bool {
    if backend_setting::current() != Backend::Gpu || has_webgpu() {
        return false;
    }
    stop_current();
    if with(|m| m.loaded.take()).is_some() {
        // The model the engine holds cannot stay in use: its memory is freed.
        let _ = crate::browser::unload_model();
    }
    announce(Readiness::Error, "", name, None);
    backend_setting::show_notice(None);
    let advice = advise(
        ErrorKind::NoWebGpu,
        "navigator.gpu is missing in this browser.",
    );
    load_screen::failed(name, &advice, None);
    load_screen::intent(intent_words(Backend::Gpu));
    true
}

fn choice(id: String) -> Option<ModelChoice> {
    with(|m| m.catalog.iter().find(|c| c.id == id).cloned())
}

fn selected_choice() -> Option<ModelChoice> {
    with(|m| m.selected.clone()).and_then(choice)
}

fn render_picker() {
    with(|m| {
        picker::render(
            &m.catalog,
            &m.stored,
            m.selected.as_deref(),
            m.local.as_deref(),
        )
    });
}

/// The Download button's words for `c`, given what is stored.
fn download_label(c: &ModelChoice) -> String {
    let (bytes, complete) = with(|m| picker::stored(c, &m.stored));
    if complete {
        "Load from this device".into()
    } else if bytes > 0 {
        format!(
            "Resume download ({} left)",
            megabytes(c.size.saturating_sub(bytes))
        )
    } else {
        format!("Download {}", megabytes(c.size))
    }
}

/// The load screen offering the selected model (after a cancel, `note` says so).
fn show_choice(note: Option<&str>) {
    let Some(c) = selected_choice() else {
        load_screen::idle(
            "Choose a model",
            note.unwrap_or("Open a GGUF file from this device to start."),
            None,
        );
        return;
    };
    let (bytes, complete) = with(|m| picker::stored(&c, &m.stored));
    let about = format!(
        "{} ({}, {} parameters). ",
        c.model.name,
        c.model.quantization,
        parameters(c.model.parameter_count)
    );
    let what = if complete {
        "It is stored on this device.".to_string()
    } else if bytes > 0 {
        format!(
            "{} of {} is downloaded; the rest downloads when you ask. It is then stored on this device and works offline.",
            megabytes(bytes),
            megabytes(c.size)
        )
    } else {
        format!(
            "It is a {} download, stored on this device afterwards so it works offline.",
            megabytes(c.size)
        )
    };
    let mut text = match note {
        Some(n) => format!("{n} {about}{what}"),
        None => format!("{about}{what}"),
    };
    if let Some(w) = super::memory::warning(c.size, super::memory::device_memory_gb()) {
        text = format!("{text} {w}");
    }
    load_screen::idle(&c.model.name, &text, Some(&download_label(&c)));
    load_screen::intent(intent_words(backend_setting::current()));
}

fn parameters(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.1} billion", n as f64 / 1e9)
    } else {
        format!("{:.0} million", n as f64 / 1e6)
    }
}

/// The picker changed.
fn choose(value: String) {
    if value == picker::LOCAL_FILE {
        return;
    }
    let Some(c) = choice(value.clone()) else {
        return;
    };
    picker::remember(&value);
    with(|m| m.selected = Some(value));
    if picker::stored(&c, &with(|m| m.stored.clone())).1 {
        load(c);
    } else {
        // A download only starts on a click; whatever is loaded stays usable until then.
        stop_current();
        if with(|m| m.loaded.is_none()) {
            announce(Readiness::None, "", "", None);
        }
        show_choice(None);
    }
}

fn download_selected() {
    if let Some(c) = selected_choice() {
        load(c);
    }
}

/// Cancels the load in progress, if any; its result will be ignored.
fn stop_current() {
    let request = with(|m| {
        m.epoch += 1;
        m.load.take().and_then(|l| l.request)
    });
    if let Some(id) = request {
        crate::browser::cancel(id);
    }
}

fn cancel() {
    let request = with(|m| {
        m.load.as_mut().and_then(|l| {
            l.cancel_asked = true;
            l.request
        })
    });
    if let Some(id) = request {
        crate::browser::cancel(id);
    }
}

/// Starts a load, replacing any in progress; returns its epoch.
fn begin(id: &str, name: &str, from_storage: bool, source: Source) -> u64 {
    stop_current();
    let epoch = with(|m| {
        m.loaded = None;
        m.failed = None;
        m.load = Some(Load {
            epoch: m.epoch,
            request: None,
            cancel_asked: false,
            meter: RateMeter::new(),
            stage: None,
            from_storage,
            backend: backend_setting::current(),
            id: id.into(),
            name: name.into(),
            source,
        });
        m.epoch
    });
    announce(Readiness::Loading, id, name, None);
    backend_setting::show_notice(None);
    load_screen::progress(name, "Checking storage…", None, "");
    load_screen::intent(intent_words(backend_setting::current()));
    epoch
}

fn current(epoch: u64) -> bool {
    with(|m| m.load.as_ref().is_some_and(|l| l.epoch == epoch))
}

fn cancel_asked(epoch: u64) -> bool {
    with(|m| {
        m.load
            .as_ref()
            .is_some_and(|l| l.epoch == epoch && l.cancel_asked)
    })
}

/// The callback that gets the load's progress events.
fn progress_handler(epoch: u64) -> Closure<dyn FnMut(JsValue)> {
    Closure::new(move |data: JsValue| {
        let Ok(FromWorker::LoadProgress {
            id,
            stage,
            bytes_done,
            bytes_total,
        }) = serde_wasm_bindgen::from_value(data)
        else {
            return;
        };
        let now = js_sys::Date::now();
        let shown = with(|m| {
            let load = m.load.as_mut().filter(|l| l.epoch == epoch)?;
            let first = load.request.is_none();
            load.request = Some(id);
            if load.stage != Some(stage) {
                load.stage = Some(stage);
                load.meter = RateMeter::new();
            }
            load.meter.record(now, bytes_done);
            Some((
                first && load.cancel_asked,
                load.name.clone(),
                stage_words(stage, load.from_storage, load.backend),
                progress_line(bytes_done, bytes_total, &load.meter),
            ))
        });
        let Some((cancel_now, name, words, line)) = shown else {
            return;
        };
        if cancel_now {
            crate::browser::cancel(id);
        }
        let pct = (bytes_total > 0).then(|| percent(bytes_done, bytes_total));
        load_screen::progress(&name, words, pct, &line);
    })
}

/// Loads a catalog model (from storage, or downloading what is missing) on the chosen backend.
fn load(c: ModelChoice) {
    if refused_without_webgpu(&c.model.name) {
        with(|m| m.failed = Some(Source::Catalog(c)));
        return;
    }
    let backend = backend_setting::current();
    let complete = with(|m| picker::stored(&c, &m.stored).1);
    let epoch = begin(&c.id, &c.model.name, complete, Source::Catalog(c.clone()));
    spawn_local(async move {
        let on_event = progress_handler(epoch);
        let result = async {
            check_storage(&c.manifest_url).await?;
            if cancel_asked(epoch) {
                return Err(crate::dom::error_with_kind(
                    "cancelled before it started",
                    ErrorKind::Cancelled,
                ));
            }
            let url = c.manifest_url.clone();
            let promise = crate::browser::with_engine(|engine| {
                engine.request_with_events(
                    |id| ToWorker::LoadModel {
                        id,
                        manifest_url: url,
                        backend,
                    },
                    Some(
                        on_event
                            .as_ref()
                            .unchecked_ref::<js_sys::Function>()
                            .clone(),
                    ),
                )
            });
            JsFuture::from(promise).await
        }
        .await;
        drop(on_event);
        if result.is_ok() {
            picker::remember(&c.id);
        }
        finish(epoch, result, Some(c)).await;
    });
}

/// Loads a GGUF file from this device on the chosen backend.
fn open_file(file: web_sys::File) {
    let name = file.name();
    with(|m| {
        m.local = Some(name.clone());
        m.selected = Some(picker::LOCAL_FILE.into());
    });
    render_picker();
    if refused_without_webgpu(&name) {
        with(|m| m.failed = Some(Source::File(file)));
        return;
    }
    let backend = backend_setting::current();
    let epoch = begin(
        &format!("file:{name}"),
        &name,
        false,
        Source::File(file.clone()),
    );
    let on_event = progress_handler(epoch);
    let size = file.size() as u64;
    let promise = crate::browser::with_engine(|engine| {
        engine.request_with_attachment(
            |id| ToWorker::LoadFile {
                id,
                name: name.clone(),
                size,
                backend,
            },
            ("file", &file),
            Some(
                on_event
                    .as_ref()
                    .unchecked_ref::<js_sys::Function>()
                    .clone(),
            ),
        )
    });
    spawn_local(async move {
        let result = JsFuture::from(promise).await;
        drop(on_event);
        finish(epoch, result, None).await;
    });
}

fn error_parts(e: &JsValue) -> (ErrorKind, String) {
    let kind = js_sys::Reflect::get(e, &"kind".into())
        .ok()
        .and_then(|k| serde_wasm_bindgen::from_value(k).ok())
        .unwrap_or_default();
    (kind, crate::dom::js_error_text(e))
}

/// The end of a load: ready, cancelled or failed. `c` is the catalog model, if it was one.
async fn finish(epoch: u64, result: Result<JsValue, JsValue>, c: Option<ModelChoice>) {
    if !current(epoch) {
        // Superseded by a newer load, which shows its own state.
        return;
    }
    let Some(load) = with(|m| m.load.take()) else {
        return;
    };
    match result.map(serde_wasm_bindgen::from_value::<FromWorker>) {
        Ok(Ok(FromWorker::Loaded {
            context,
            model,
            runs_on,
            adapter,
            fallback,
            ..
        })) => {
            // The model's own name (a file's GGUF header names it better than its file name).
            let name = if model.name.trim().is_empty() {
                load.name.clone()
            } else {
                model.name
            };
            let placement = Placement::new(runs_on, adapter.as_ref(), fallback.as_ref());
            with(|m| {
                m.loaded = Some(Loaded {
                    id: load.id.clone(),
                    name: name.clone(),
                    source: Some(load.source.clone()),
                })
            });
            announce_ready(&load.id, &name, context, &placement);
            backend_setting::show_notice(Some(&placement));
            load_screen::hide();
        }
        Ok(other) => {
            with(|m| m.failed = Some(load.source.clone()));
            announce(Readiness::Error, &load.id, &load.name, None);
            let advice = advise(
                ErrorKind::Other,
                &format!("the engine answered in an unexpected way: {other:?}"),
            );
            load_screen::failed(&load.name, &advice, c.as_ref().map(|_| "Try again"));
        }
        Err(e) => {
            let (kind, message) = error_parts(&e);
            if kind == ErrorKind::Cancelled {
                announce(Readiness::None, "", "", None);
                if c.is_some() {
                    refresh_stored().await;
                    show_choice(Some("Loading was cancelled."));
                } else {
                    load_screen::idle("Choose a model", "Opening the file was cancelled.", None);
                }
                return;
            }
            with(|m| m.failed = Some(load.source.clone()));
            announce(Readiness::Error, &load.id, &load.name, None);
            let advice = advise(kind, &message);
            let retry = c.as_ref().map(|_| "Try again");
            load_screen::failed(&load.name, &advice, retry);
        }
    }
    refresh_stored().await;
}

/// A model the page's script API (`window.hearth.loadModel`) loaded, bypassing the load
/// screen: the picker, the model status and the load screen follow it, unless a load started
/// here is still running (its own end decides what they show).
pub fn loaded_by_script(manifest_url: &str, name: &str, context: u32, placement: &Placement) {
    if with(|m| m.load.is_some()) {
        return;
    }
    let id = with(|m| {
        let choice = m
            .catalog
            .iter()
            .find(|c| c.manifest_url == manifest_url)
            .cloned();
        let id = choice
            .as_ref()
            .map_or_else(|| manifest_url.to_string(), |c| c.id.clone());
        if choice.is_some() {
            m.selected = Some(id.clone());
        }
        m.failed = None;
        m.loaded = Some(Loaded {
            id: id.clone(),
            name: name.to_string(),
            source: choice.map(Source::Catalog),
        });
        id
    });
    announce_ready(&id, name, context, placement);
    backend_setting::show_notice(Some(placement));
    load_screen::hide();
    render_picker();
}

/// Re-reads what is stored, and updates the picker and the stored-models panel.
async fn refresh_stored() {
    let stored = cached_models().await;
    with(|m| m.stored = stored.clone());
    render_picker();
    storage_panel::render(&stored);
    storage_panel::render_storage().await;
}

async fn delete_stored(manifest_url: String) {
    let reply = crate::service_worker::ask(&SwRequest::EvictModel {
        manifest_url: manifest_url.clone(),
    })
    .await;
    if let Err(e) = &reply {
        web_sys::console::error_2(&"deleting a stored model failed".into(), e);
    }
    refresh_stored().await;
    // The load screen's offer now needs a download again.
    let idle = with(|m| m.load.is_none() && m.loaded.is_none());
    if idle {
        show_choice(None);
    }
}

/// A failure the engine reports outside any request: a lost GPU device takes the model with
/// it, so the page says so and offers a reload (the engine starts afresh).
pub fn engine_failed(kind: ErrorKind, message: &str) {
    if kind != ErrorKind::DeviceLost {
        return;
    }
    stop_current();
    let (id, name) = with(|m| m.loaded.take().map(|l| (l.id, l.name)).unwrap_or_default());
    announce(Readiness::Error, &id, &name, None);
    backend_setting::show_notice(None);
    let name = if name.is_empty() { "The model" } else { &name };
    load_screen::failed(name, &advise(kind, message), None);
}

/// The user chose where the model runs: kept, and the model (loaded, loading, or whose load
/// just failed) loads again there, from storage or the same file, so nothing downloads again.
fn backend_changed(backend: Backend) {
    let before = backend_setting::current();
    if backend == before {
        return;
    }
    if crate::chat::busy() {
        backend_setting::restore(before);
        backend_setting::say("Stop the reply being written first, then choose again.");
        return;
    }
    backend_setting::store(backend);
    let again = with(|m| {
        if let Some(load) = &m.load {
            Some(Some(load.source.clone()))
        } else if let Some(loaded) = &m.loaded {
            Some(loaded.source.clone())
        } else {
            m.failed.clone().map(Some)
        }
    });
    match again {
        Some(Some(source)) => {
            backend_setting::say(&match &source {
                Source::Catalog(c) if with(|m| picker::stored(c, &m.stored).1) => format!(
                    "Loading {} again from this device with the new setting.",
                    c.model.name
                ),
                Source::Catalog(c) => format!("Loading {} with the new setting.", c.model.name),
                Source::File(f) => format!(
                    "Reading {} again from this device with the new setting.",
                    f.name()
                ),
            });
            match source {
                Source::Catalog(c) => load(c),
                Source::File(f) => open_file(f),
            }
        }
        Some(None) => backend_setting::say(
            "The model was loaded by a script from outside the model list: the setting applies from the next model you load.",
        ),
        None => {
            backend_setting::say("The setting applies to the next model you load.");
            // Nothing runs: the load screen offers the selected model again (a stored one loads by
            // itself, as at start), instead of advice the new setting no longer needs.
            if with(|m| !m.catalog.is_empty()) {
                offer_selected();
            }
        }
    }
}

/// Delete all data: the setting is back to automatic (the loaded model stays where it is).
pub fn forget_backend_setting() {
    backend_setting::forget();
}
