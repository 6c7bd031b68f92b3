//! The page's handle on the engine worker: starts it, queues requests until the worker says it
//! is ready (a dedicated worker drops messages posted before its wasm is initialised), and
//! matches replies to requests by id.

use hearth_protocol::{FromWorker, ToWorker};
use js_sys::{Function, Promise};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

#[derive(Default)]
struct State {
    ready: bool,
    queued: Vec<JsValue>,
    next_id: u32,
    /// resolve, reject, and the callback that gets progress and token events.
    pending: HashMap<u32, (Function, Function, Option<Function>)>,
}

#[derive(Clone)]
pub struct Engine {
    worker: Worker,
    state: Rc<RefCell<State>>,
}

impl Engine {
    pub fn spawn() -> Result<Self, JsValue> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        options.set_name("hearth-engine");
        let worker = Worker::new_with_options("./worker.js", &options)?;
        let engine = Self {
            worker,
            state: Rc::default(),
        };
        let handler = engine.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            handler.receive(e.data());
        });
        engine
            .worker
            .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        Ok(engine)
    }

    fn receive(&self, data: JsValue) {
        let message = match serde_wasm_bindgen::from_value::<FromWorker>(data.clone()) {
            Ok(m) => m,
            Err(e) => {
                web_sys::console::error_2(
                    &format!("engine sent an unknown message: {e}").into(),
                    &data,
                );
                return;
            }
        };
        match message {
            FromWorker::Ready => {
                let queued = {
                    let mut state = self.state.borrow_mut();
                    state.ready = true;
                    std::mem::take(&mut state.queued)
                };
                for m in queued {
                    self.post_now(&m);
                }
            }
            FromWorker::GpuSelfTest { id, .. }
            | FromWorker::Loaded { id, .. }
            | FromWorker::Unloaded { id }
            | FromWorker::Done { id, .. } => self.settle(id, Ok(data)),
            FromWorker::LoadProgress { id, .. } | FromWorker::Token { id, .. } => {
                let callback = self
                    .state
                    .borrow()
                    .pending
                    .get(&id)
                    .and_then(|(_, _, on_event)| on_event.clone());
                if let Some(callback) = callback {
                    if let Err(e) = callback.call1(&JsValue::NULL, &data) {
                        web_sys::console::error_2(&"an engine event handler failed".into(), &e);
                    }
                }
            }
            FromWorker::Error {
                id: Some(id),
                kind,
                message,
            } => self.settle(id, Err(crate::dom::error_with_kind(&message, kind))),
            FromWorker::Error {
                id: None,
                kind,
                message,
            } => {
                web_sys::console::error_1(&format!("engine ({kind:?}): {message}").into());
                crate::models::engine_failed(kind, &message);
            }
        }
    }

    fn settle(&self, id: u32, result: Result<JsValue, JsValue>) {
        let Some((resolve, reject, _)) = self.state.borrow_mut().pending.remove(&id) else {
            return;
        };
        let _ = match result {
            Ok(v) => resolve.call1(&JsValue::NULL, &v),
            Err(e) => reject.call1(&JsValue::NULL, &e),
        };
    }

    fn post_now(&self, message: &JsValue) {
        if let Err(e) = self.worker.post_message(message) {
            web_sys::console::error_2(&"posting to the engine failed".into(), &e);
        }
    }

    fn post(&self, message: JsValue) {
        let mut state = self.state.borrow_mut();
        if state.ready {
            drop(state);
            self.post_now(&message);
        } else {
            state.queued.push(message);
        }
    }

    /// Sends a request built from a fresh id; the promise settles with the worker's reply.
    pub fn request(&self, build: impl FnOnce(u32) -> ToWorker) -> Promise {
        self.request_with_events(build, None)
    }

    /// Like [`Self::request`]; `on_event` gets the request's progress and token events.
    pub fn request_with_events(
        &self,
        build: impl FnOnce(u32) -> ToWorker,
        on_event: Option<Function>,
    ) -> Promise {
        self.start(build, on_event).1
    }

    /// Like [`Self::request_with_events`], also returning the request's id (to cancel it
    /// before its first event arrives).
    pub fn start(
        &self,
        build: impl FnOnce(u32) -> ToWorker,
        on_event: Option<Function>,
    ) -> (u32, Promise) {
        self.send(build, None, on_event)
    }

    /// Like [`Self::request_with_events`], with a value serde cannot carry (a `File`) set as
    /// the message's field `attachment.0`.
    pub fn request_with_attachment(
        &self,
        build: impl FnOnce(u32) -> ToWorker,
        attachment: (&str, &JsValue),
        on_event: Option<Function>,
    ) -> Promise {
        self.send(build, Some(attachment), on_event).1
    }

    fn send(
        &self,
        build: impl FnOnce(u32) -> ToWorker,
        attachment: Option<(&str, &JsValue)>,
        on_event: Option<Function>,
    ) -> (u32, Promise) {
        let id = {
            let mut state = self.state.borrow_mut();
            state.next_id = state.next_id.wrapping_add(1);
            state.next_id
        };
        let message = match serde_wasm_bindgen::to_value(&build(id)) {
            Ok(m) => m,
            Err(e) => return (id, Promise::reject(&js_sys::Error::new(&e.to_string()))),
        };
        if let Some((key, value)) = attachment {
            if let Err(e) = js_sys::Reflect::set(&message, &key.into(), value) {
                return (id, Promise::reject(&e));
            }
        }
        let state = self.state.clone();
        let promise = Promise::new(&mut |resolve, reject| {
            state
                .borrow_mut()
                .pending
                .insert(id, (resolve, reject, on_event.clone()));
        });
        self.post(message);
        (id, promise)
    }
}

impl Engine {
    /// Stops the worker at once (freeing its GPU memory); pending requests fail.
    pub fn terminate(&self) {
        self.worker.terminate();
        let pending = std::mem::take(&mut self.state.borrow_mut().pending);
        for (_, (_, reject, _)) in pending {
            let _ = reject.call1(
                &JsValue::NULL,
                &js_sys::Error::new("the engine was stopped: another tab took it over").into(),
            );
        }
    }

    /// Asks the worker to stop request `id` (a load or a reply).
    pub fn cancel(&self, id: u32) {
        match serde_wasm_bindgen::to_value(&ToWorker::Cancel { id }) {
            Ok(m) => self.post(m),
            Err(e) => web_sys::console::error_1(&e.to_string().into()),
        }
    }
}
