//! One asynchronous operation: a Promise settled on the JavaScript thread
//! by a future that runs on napi's tokio runtime, and the `AbortSignal`
//! that may stop it.
//!
//! The work itself never touches JavaScript: parameters are converted
//! before it starts and results after it ends, on the JavaScript thread, so
//! a statement (and every UDF it calls) runs on a blocking-pool thread with
//! no V8 isolate in sight, which is the point of the package.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;

use futures::future::{AbortHandle, Abortable};
use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, sys};

use crate::errors::Failure;
use crate::raw::{self, Raw, RawValue, Ref};

/// The options every operation takes: `{ signal }`.
#[derive(Debug, Default)]
pub(crate) struct OpOptions {
    /// The `AbortSignal`, if one was given.
    pub(crate) signal: Option<Raw>,
}

/// Reads `{ signal?: AbortSignal }` (undefined or null for none).
pub(crate) fn op_options(env: sys::napi_env, options: Option<Raw>) -> Result<OpOptions, Failure> {
    let js = Failure::from_napi;
    let Some(options) = options else {
        return Ok(OpOptions::default());
    };
    match raw::type_of(env, options).map_err(js)? {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(OpOptions::default()),
        // An array is an object too, but never options: `exec(sql, [1])`
        // means parameters, which `exec` does not take.
        // Nor is a signal passed bare: `get(params, signal)` for
        // `get(params, { signal })` would otherwise be read as options
        // without a signal, and the abort would be ignored.
        sys::ValueType::napi_object
            if !raw::is_array(env, options).map_err(js)?
                && !raw::is_instance_of(env, options, "AbortSignal").map_err(js)? =>
        {
            let signal = raw::get_named(env, options, "signal").map_err(js)?;
            match raw::type_of(env, signal).map_err(js)? {
                sys::ValueType::napi_undefined | sys::ValueType::napi_null => {
                    Ok(OpOptions::default())
                }
                _ if raw::is_instance_of(env, signal, "AbortSignal").map_err(js)? => {
                    Ok(OpOptions {
                        signal: Some(signal),
                    })
                }
                _ => Err(Failure::type_error(
                    "ERR_INVALID_ARG_TYPE",
                    "options.signal must be an AbortSignal".to_string(),
                )),
            }
        }
        _ => Err(Failure::type_error(
            "ERR_INVALID_ARG_TYPE",
            "options must be an object such as { signal } (an AbortSignal goes in its \
             signal property)"
                .to_string(),
        )),
    }
}

/// The operations waiting on one `AbortSignal`, behind the one listener
/// this package adds to it. One listener per operation would pass Node's
/// limit of ten per event target with ten operations sharing a signal
/// (`MaxListenersExceededWarning`), which a signal covering a whole request
/// or shutdown commonly is.
struct Waiters {
    listener: Ref,
    handles: HashMap<u64, Box<dyn FnOnce()>>,
}

thread_local! {
    /// Per JavaScript thread (each has its own environment): the signals
    /// being listened to, each mapped to its [`Waiters`]' id. A `WeakMap`,
    /// so that a signal is found again by identity and never kept alive.
    static SIGNALS: RefCell<Option<Ref>> = const { RefCell::new(None) };
    static WAITERS: RefCell<HashMap<u64, Waiters>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

fn next_id() -> u64 {
    NEXT_ID.with(|next| {
        let id = next.get();
        next.set(id + 1);
        id
    })
}

/// This thread's `WeakMap` of signals.
fn signals(env: sys::napi_env) -> napi::Result<Raw> {
    SIGNALS.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some(map) = &*slot {
            return map.get(env);
        }
        let map = raw::new_global(env, "WeakMap")?;
        *slot = Some(Ref::new(env, map)?);
        Ok(map)
    })
}

/// Aborts every operation waiting on the signal of `id`; the listener.
fn abort_all(id: u64) {
    let handles: Vec<Box<dyn FnOnce()>> = WAITERS.with(|waiters| {
        waiters
            .borrow_mut()
            .get_mut(&id)
            .map(|w| w.handles.drain().map(|(_, h)| h).collect())
            .unwrap_or_default()
    });
    for handle in handles {
        handle();
    }
}

/// One operation's place among its signal's [`Waiters`]: it is removed
/// when the operation settles, and the listener with the last one, so a
/// long-lived signal keeps nothing of operations that are over.
#[derive(Debug)]
pub(crate) struct AbortLink {
    signal: Ref,
    id: u64,
    key: u64,
}

impl AbortLink {
    /// Aborts `handle` when `signal` fires.
    pub(crate) fn listen(
        env: sys::napi_env,
        signal: Raw,
        handle: AbortHandle,
    ) -> napi::Result<AbortLink> {
        AbortLink::on_abort(env, signal, move || handle.abort())
    }

    /// Calls `then` (on this thread) when `signal` fires.
    pub(crate) fn on_abort(
        env: sys::napi_env,
        signal: Raw,
        then: impl FnOnce() + 'static,
    ) -> napi::Result<AbortLink> {
        let map = signals(env)?;
        let found = raw::call_method(env, map, "get", &[signal])?;
        let known = if raw::type_of(env, found)? == sys::ValueType::napi_number {
            let id = raw::get_double(env, found)? as u64;
            WAITERS.with(|w| w.borrow().contains_key(&id)).then_some(id)
        } else {
            None
        };
        let id = if let Some(id) = known {
            id
        } else {
            let id = next_id();
            let listener = raw::function(env, "onWasmudfAbort", move || abort_all(id))?;
            let event = raw::string(env, "abort")?;
            raw::call_method(env, signal, "addEventListener", &[event, listener])?;
            raw::call_method(env, map, "set", &[signal, raw::double(env, id as f64)?])?;
            let listener = Ref::new(env, listener)?;
            WAITERS.with(|w| {
                w.borrow_mut().insert(
                    id,
                    Waiters {
                        listener,
                        handles: HashMap::new(),
                    },
                )
            });
            id
        };
        let key = next_id();
        WAITERS.with(|w| {
            if let Some(waiters) = w.borrow_mut().get_mut(&id) {
                waiters.handles.insert(key, Box::new(then));
            }
        });
        Ok(AbortLink {
            signal: Ref::new(env, signal)?,
            id,
            key,
        })
    }

    /// Leaves the signal's waiters (and takes the listener off it with the
    /// last one), and returns the signal's `reason` when it has fired.
    pub(crate) fn finish(self, env: sys::napi_env) -> Option<Raw> {
        let emptied = WAITERS.with(|w| {
            let mut w = w.borrow_mut();
            let waiters = w.get_mut(&self.id)?;
            waiters.handles.remove(&self.key);
            if waiters.handles.is_empty() {
                w.remove(&self.id)
            } else {
                None
            }
        });
        let reason = (|| -> napi::Result<Option<Raw>> {
            let signal = self.signal.get(env)?;
            if let Some(waiters) = emptied {
                let listener = waiters.listener.get(env)?;
                let event = raw::string(env, "abort")?;
                raw::call_method(env, signal, "removeEventListener", &[event, listener])?;
                waiters.listener.release(env);
                raw::call_method(env, signals(env)?, "delete", &[signal])?;
            }
            already_aborted(env, signal)
        })()
        .ok()
        .flatten();
        self.signal.release(env);
        reason
    }
}

/// Whether `signal` has already fired, and its reason if so.
pub(crate) fn already_aborted(env: sys::napi_env, signal: Raw) -> napi::Result<Option<Raw>> {
    let aborted = raw::get_named(env, signal, "aborted")?;
    if raw::get_bool(env, aborted)? {
        Ok(Some(raw::get_named(env, signal, "reason")?))
    } else {
        Ok(None)
    }
}

/// A Promise rejected with `failure`.
pub(crate) fn rejected<'env>(
    env: &'env Env,
    failure: &Failure,
    abort_reason: Option<Raw>,
) -> napi::Result<PromiseRaw<'env, RawValue>> {
    let error = failure.to_js(env.raw(), abort_reason)?;
    PromiseRaw::reject(env, RawValue(error))
}

/// Runs `work` on the runtime and returns a Promise that `to_js` resolves
/// with its output (on the JavaScript thread), or that rejects with its
/// failure. With a signal in `options`, an abort drops `work` (which stops
/// a running statement: the host library interrupts SQLite and the guest
/// when its future is dropped, and nothing commits) and rejects at once
/// with an `AbortError`.
pub(crate) fn spawn<'env, T, W, J>(
    env: &'env Env,
    options: &OpOptions,
    work: W,
    to_js: J,
) -> napi::Result<PromiseRaw<'env, RawValue>>
where
    T: Send + 'static,
    W: Future<Output = Result<T, Failure>> + Send + 'static,
    J: FnOnce(sys::napi_env, T) -> napi::Result<Raw> + 'static,
{
    let mut link = None;
    let work: std::pin::Pin<Box<dyn Future<Output = Result<T, Failure>> + Send>> =
        match options.signal {
            None => Box::pin(work),
            Some(signal) => {
                if let Some(reason) = already_aborted(env.raw(), signal)? {
                    return rejected(env, &Failure::Aborted, Some(reason));
                }
                let (handle, registration) = AbortHandle::new_pair();
                link = Some(AbortLink::listen(env.raw(), signal, handle)?);
                Box::pin(async move {
                    match Abortable::new(work, registration).await {
                        Ok(result) => result,
                        Err(futures::future::Aborted) => Err(Failure::Aborted),
                    }
                })
            }
        };
    // The future always succeeds, carrying the operation's own result, so
    // that the callback builds the rejection's `Error` itself (with its
    // code) rather than napi's generic one.
    env.spawn_future_with_callback(async move { Ok(work.await) }, move |env, result| {
        let env = env.raw();
        let reason = link.and_then(|link| link.finish(env));
        match result {
            Ok(value) => to_js(env, value).map(RawValue),
            Err(failure) => {
                let error = failure.to_js(env, reason)?;
                // Rejects with this very object.
                // SAFETY: on the env's thread, with a value of this scope.
                let error =
                    unsafe { napi::bindgen_prelude::Unknown::from_raw_unchecked(env, error) };
                Err(napi::Error::from(error))
            }
        }
    })
}
