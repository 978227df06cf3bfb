//! `new Database(path, options)`: the options, checked, and the engines
//! they select.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use napi::bindgen_prelude::{FromNapiValue, Unknown};
use napi::{JsValue, sys};
use napi_derive::napi;
use wasmudf::{Engine, Limits};

use crate::errors::Failure;

/// Options of `new Database(path, options)`. The sandbox limits are the
/// `wasmudf` CLI's flags, in camelCase, with the same defaults.
#[napi(object)]
#[derive(Debug, Default)]
pub struct DatabaseOptions {
    /// Component files (`.wasm`) to load, or JavaScript UDF modules
    /// (`.js`, `.mjs`), built as `loadJavaScript` builds them.
    pub udf: Option<Vec<String>>,
    /// Connections in the pool: the most statements running at once, each
    /// on its own thread. Default: the number of CPUs.
    pub threads: Option<f64>,
    /// Open the file read-only (a missing file is then an error).
    pub read_only: Option<bool>,
    /// Read every INTEGER as a `BigInt` (default: a `number` when it is a
    /// safe integer, a `BigInt` otherwise).
    pub safe_integers: Option<bool>,
    /// Deadline of one UDF call, in milliseconds (default 5000).
    pub timeout_ms: Option<f64>,
    /// Deadline of one statement (of each batch of rows for `iterate`), in
    /// milliseconds; none by default.
    pub query_timeout_ms: Option<f64>,
    /// How long a connection waits for another's lock, in milliseconds
    /// (default 5000).
    pub busy_timeout_ms: Option<f64>,
    /// Fuel for one UDF call (about one unit per wasm instruction); unmetered
    /// by default.
    pub fuel: Option<f64>,
    /// Linear memory of one instance, all its memories together, in MiB
    /// (default 64).
    pub memory_mib: Option<f64>,
    /// Largest TEXT or BLOB a UDF may return, in MiB (default 64).
    pub max_result_mib: Option<f64>,
    /// Largest wasm stack, in KiB (default 512).
    pub stack_kib: Option<f64>,
    /// Most live instances of all components of the engine (default 1000).
    pub max_instances: Option<f64>,
    /// Most core instances inside one component instance (default 100).
    pub max_core_instances: Option<f64>,
    /// Most functions a component may define, checked before compiling
    /// (default 80000).
    pub max_wasm_functions: Option<f64>,
    /// Most code a component may bring, in MiB, checked before compiling
    /// (default 16).
    pub max_code_mib: Option<f64>,
    /// Most functions one component may declare (default 4096).
    pub max_functions: Option<f64>,
    /// Refuse component files larger than this, in MiB (default 64).
    pub max_component_mib: Option<f64>,
    /// Keep compiled components in the on-disk cache
    /// (`$XDG_CACHE_HOME/wasmudf`), so that a second start loads them in
    /// milliseconds (default true).
    pub cache: Option<bool>,
    /// Treat the components as trusted: their functions may then be called
    /// from views, triggers and other schema objects (default false).
    pub trusted: Option<bool>,
}

/// The checked options, owned and `Send`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) udf: Vec<String>,
    pub(crate) threads: Option<usize>,
    pub(crate) read_only: bool,
    pub(crate) safe_integers: bool,
    pub(crate) query_timeout: Option<Duration>,
    pub(crate) busy_timeout: Option<Duration>,
    pub(crate) trusted: bool,
    pub(crate) engine: EngineKey,
}

/// What an engine is built from; databases with equal keys share one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EngineKey {
    limits: Limits,
    max_component_bytes: u64,
    cache: bool,
}

const MIB: f64 = (1u64 << 20) as f64;

/// A whole number in `min..=max`, or a RangeError naming the option.
fn whole(name: &str, value: Option<f64>, min: f64, max: f64) -> Result<Option<f64>, Failure> {
    match value {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && (min..=max).contains(&v) => Ok(Some(v)),
        Some(v) => Err(Failure::range_error(
            "ERR_OUT_OF_RANGE",
            format!("options.{name} must be a whole number from {min} to {max}, got {v}"),
        )),
    }
}

impl Settings {
    /// The pool's size: `threads`, else the number of CPUs (the host
    /// library's default, chosen here so that the package knows it).
    pub(crate) fn pool_size(&self) -> usize {
        self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        })
    }

    /// Reads `options` (undefined or null for the defaults).
    pub(crate) fn from_js(
        env: sys::napi_env,
        options: Option<Unknown<'_>>,
    ) -> Result<Settings, Failure> {
        let options = match options {
            None => DatabaseOptions::default(),
            Some(value) => {
                // SAFETY: on the env's thread, with a live value.
                unsafe { DatabaseOptions::from_napi_value(env, value.raw()) }.map_err(|e| {
                    Failure::type_error("ERR_INVALID_ARG_TYPE", format!("options: {}", e.reason))
                })?
            }
        };
        Settings::new(options)
    }

    fn new(o: DatabaseOptions) -> Result<Settings, Failure> {
        let defaults = Limits::default();
        let u32_max = f64::from(u32::MAX);
        let ms = |name: &str, v: Option<f64>| {
            Ok::<_, Failure>(whole(name, v, 0.0, 1e12)?.map(|v| Duration::from_millis(v as u64)))
        };
        let mib = |name: &str, v: Option<f64>, default: usize| {
            Ok::<_, Failure>(
                whole(name, v, 1.0, 1_048_576.0)?.map_or(default, |v| (v * MIB) as usize),
            )
        };
        let count = |name: &str, v: Option<f64>, default: u32| {
            Ok::<_, Failure>(whole(name, v, 1.0, u32_max)?.map_or(default, |v| v as u32))
        };
        let stack = whole(
            "stackKib",
            o.stack_kib,
            1.0,
            (Limits::MAX_WASM_STACK >> 10) as f64,
        )?
        .map_or(defaults.max_wasm_stack, |v| v as usize * 1024);
        let limits = Limits {
            timeout: ms("timeoutMs", o.timeout_ms)?.unwrap_or(defaults.timeout),
            fuel: whole("fuel", o.fuel, 1.0, 9_007_199_254_740_991.0)?.map(|v| v as u64),
            max_memory_bytes: mib("memoryMib", o.memory_mib, defaults.max_memory_bytes)?,
            max_result_bytes: mib("maxResultMib", o.max_result_mib, defaults.max_result_bytes)?,
            max_wasm_stack: stack,
            max_instances: count("maxInstances", o.max_instances, defaults.max_instances)?,
            max_core_instances: count(
                "maxCoreInstances",
                o.max_core_instances,
                defaults.max_core_instances,
            )?,
            max_wasm_functions: count(
                "maxWasmFunctions",
                o.max_wasm_functions,
                defaults.max_wasm_functions,
            )?,
            max_code_bytes: mib("maxCodeMib", o.max_code_mib, defaults.max_code_bytes)?,
            max_functions: count(
                "maxFunctions",
                o.max_functions,
                defaults.max_functions as u32,
            )? as usize,
            ..defaults
        };
        let max_component_bytes = mib("maxComponentMib", o.max_component_mib, 64 << 20)? as u64;
        Ok(Settings {
            udf: o.udf.unwrap_or_default(),
            threads: whole("threads", o.threads, 1.0, 1024.0)?.map(|v| v as usize),
            read_only: o.read_only.unwrap_or(false),
            safe_integers: o.safe_integers.unwrap_or(false),
            query_timeout: ms("queryTimeoutMs", o.query_timeout_ms)?,
            busy_timeout: ms("busyTimeoutMs", o.busy_timeout_ms)?,
            trusted: o.trusted.unwrap_or(false),
            engine: EngineKey {
                limits,
                max_component_bytes,
                cache: o.cache.unwrap_or(true),
            },
        })
    }
}

/// How many engines (distinct option sets) are kept for reuse. Each has an
/// epoch thread and an instance pool; a program opens databases with one
/// or two option sets, and a test suite with a few more.
const KEPT_ENGINES: usize = 4;

/// The engine for `key`: one already built for equal options, or a new one.
/// Engines outlive the databases that use them (the most recently used
/// [`KEPT_ENGINES`]), so that opening and closing databases does not build
/// an engine, start its epoch thread and map its instance pool each time.
/// Blocking (building an engine maps memory).
pub(crate) fn engine(key: &EngineKey) -> Result<Engine, Failure> {
    static ENGINES: Mutex<Vec<(EngineKey, Engine)>> = Mutex::new(Vec::new());
    let mut engines = ENGINES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(i) = engines.iter().position(|(k, _)| k == key) {
        let found = engines.remove(i);
        let engine = found.1.clone();
        engines.push(found);
        return Ok(engine);
    }
    let mut builder = Engine::builder()
        .limits(key.limits.clone())
        .max_component_bytes(key.max_component_bytes);
    if key.cache
        && let Some(dir) = wasmudf::default_cache_dir()
    {
        builder = builder.cache_dir(dir);
    }
    let engine = builder.build()?;
    if engines.len() >= KEPT_ENGINES {
        engines.remove(0);
    }
    engines.push((key.clone(), engine.clone()));
    Ok(engine)
}
