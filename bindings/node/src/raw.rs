//! Thin wrappers over Node-API's C functions for the values this package
//! makes and reads: rows, parameters, error objects, an `AbortSignal`'s
//! listener. Node-API's C interface is stable across Node versions, and a
//! row of N columns is N `napi_define_properties` calls with no intermediate
//! Rust representation.
//!
//! Every function here must run on the JavaScript thread that owns `env`,
//! inside a callback Node-API made (a method call, a promise callback).

use std::ffi::{CString, c_void};
use std::ptr;

use napi::sys;

/// A JavaScript value as Node-API hands it around: valid in the current
/// handle scope only.
pub(crate) type Raw = sys::napi_value;

/// Node-API's status as a `napi::Result`.
pub(crate) fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            napi::Status::from(status),
            format!("Node-API call failed: {what}"),
        ))
    }
}

/// A raw value that Node-API functions returning promises resolve with.
#[derive(Debug, Clone, Copy)]
pub struct RawValue(pub(crate) Raw);

impl napi::bindgen_prelude::ToNapiValue for RawValue {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}

impl napi::bindgen_prelude::TypeName for RawValue {
    fn type_name() -> &'static str {
        "unknown"
    }

    fn value_type() -> napi::ValueType {
        napi::ValueType::Unknown
    }
}

/// A value maker: `$f(env, &mut out)`.
macro_rules! make {
    ($what:literal, |$out:ident| $call:expr) => {{
        let mut $out = ptr::null_mut();
        // SAFETY: the caller is on the env's thread (module contract); the
        // call only writes `out`.
        check(unsafe { $call }, $what)?;
        Ok($out)
    }};
}

pub(crate) fn null(env: sys::napi_env) -> napi::Result<Raw> {
    make!("napi_get_null", |out| sys::napi_get_null(env, &mut out))
}

pub(crate) fn undefined(env: sys::napi_env) -> napi::Result<Raw> {
    make!("napi_get_undefined", |out| sys::napi_get_undefined(
        env, &mut out
    ))
}

pub(crate) fn boolean(env: sys::napi_env, value: bool) -> napi::Result<Raw> {
    make!("napi_get_boolean", |out| sys::napi_get_boolean(
        env, value, &mut out
    ))
}

pub(crate) fn double(env: sys::napi_env, value: f64) -> napi::Result<Raw> {
    make!("napi_create_double", |out| sys::napi_create_double(
        env, value, &mut out
    ))
}

pub(crate) fn bigint(env: sys::napi_env, value: i64) -> napi::Result<Raw> {
    make!("napi_create_bigint_int64", |out| {
        sys::napi_create_bigint_int64(env, value, &mut out)
    })
}

pub(crate) fn string(env: sys::napi_env, value: &str) -> napi::Result<Raw> {
    make!("napi_create_string_utf8", |out| {
        sys::napi_create_string_utf8(env, value.as_ptr().cast(), value.len() as isize, &mut out)
    })
}

/// A Node.js `Buffer` (a `Uint8Array`) holding a copy of `bytes`.
pub(crate) fn buffer(env: sys::napi_env, bytes: &[u8]) -> napi::Result<Raw> {
    let mut data = ptr::null_mut();
    make!("napi_create_buffer_copy", |out| {
        sys::napi_create_buffer_copy(env, bytes.len(), bytes.as_ptr().cast(), &mut data, &mut out)
    })
}

pub(crate) fn object(env: sys::napi_env) -> napi::Result<Raw> {
    make!("napi_create_object", |out| sys::napi_create_object(
        env, &mut out
    ))
}

pub(crate) fn array(env: sys::napi_env, len: usize) -> napi::Result<Raw> {
    make!("napi_create_array_with_length", |out| {
        sys::napi_create_array_with_length(env, len, &mut out)
    })
}

/// Defines `object[key] = value` as an own enumerable, writable,
/// configurable data property: a row's column. Not `napi_set_property`
/// ([[Set]]): a column any SQL or database file can name `__proto__`
/// would then replace the row's prototype instead of becoming its key.
pub(crate) fn define(env: sys::napi_env, object: Raw, key: Raw, value: Raw) -> napi::Result<()> {
    let descriptor = sys::napi_property_descriptor {
        utf8name: ptr::null(),
        name: key,
        method: None,
        getter: None,
        setter: None,
        value,
        attributes: sys::PropertyAttributes::writable
            | sys::PropertyAttributes::enumerable
            | sys::PropertyAttributes::configurable,
        data: ptr::null_mut(),
    };
    // SAFETY: on the env's thread; the values are live in this scope and
    // the descriptor outlives the call.
    check(
        unsafe { sys::napi_define_properties(env, object, 1, &descriptor) },
        "napi_define_properties",
    )
}

/// Sets `object[name]`; `name` is one of this package's own property names.
pub(crate) fn set_named(
    env: sys::napi_env,
    object: Raw,
    name: &str,
    value: Raw,
) -> napi::Result<()> {
    let key = string(env, name)?;
    define(env, object, key, value)
}

pub(crate) fn set_element(
    env: sys::napi_env,
    array: Raw,
    index: u32,
    value: Raw,
) -> napi::Result<()> {
    // SAFETY: on the env's thread; the values are live in this scope.
    check(
        unsafe { sys::napi_set_element(env, array, index, value) },
        "napi_set_element",
    )
}

pub(crate) fn get_named(env: sys::napi_env, object: Raw, name: &str) -> napi::Result<Raw> {
    let key = string(env, name)?;
    make!("napi_get_property", |out| sys::napi_get_property(
        env, object, key, &mut out
    ))
}

pub(crate) fn get_element(env: sys::napi_env, array: Raw, index: u32) -> napi::Result<Raw> {
    make!("napi_get_element", |out| sys::napi_get_element(
        env, array, index, &mut out
    ))
}

/// `typeof value`, as Node-API's enum.
pub(crate) fn type_of(env: sys::napi_env, value: Raw) -> napi::Result<sys::napi_valuetype> {
    let mut out = 0;
    // SAFETY: on the env's thread.
    check(
        unsafe { sys::napi_typeof(env, value, &mut out) },
        "napi_typeof",
    )?;
    Ok(out)
}

pub(crate) fn get_double(env: sys::napi_env, value: Raw) -> napi::Result<f64> {
    let mut out = 0.0;
    // SAFETY: on the env's thread; `value` is a number (checked by callers).
    check(
        unsafe { sys::napi_get_value_double(env, value, &mut out) },
        "napi_get_value_double",
    )?;
    Ok(out)
}

pub(crate) fn get_bool(env: sys::napi_env, value: Raw) -> napi::Result<bool> {
    let mut out = false;
    // SAFETY: on the env's thread; `value` is a boolean (checked by callers).
    check(
        unsafe { sys::napi_get_value_bool(env, value, &mut out) },
        "napi_get_value_bool",
    )?;
    Ok(out)
}

/// A BigInt as an `i64`, and whether it fitted (`lossless`).
pub(crate) fn get_bigint(env: sys::napi_env, value: Raw) -> napi::Result<(i64, bool)> {
    let (mut out, mut lossless) = (0, false);
    // SAFETY: on the env's thread; `value` is a BigInt (checked by callers).
    check(
        unsafe { sys::napi_get_value_bigint_int64(env, value, &mut out, &mut lossless) },
        "napi_get_value_bigint_int64",
    )?;
    Ok((out, lossless))
}

/// A string's UTF-8 (lone surrogates become U+FFFD, as in `Buffer.from`).
pub(crate) fn get_string(env: sys::napi_env, value: Raw) -> napi::Result<String> {
    let mut len = 0;
    // SAFETY: on the env's thread; a null buffer asks for the length.
    check(
        unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) },
        "napi_get_value_string_utf8",
    )?;
    let mut buf = vec![0u8; len + 1];
    let mut written = 0;
    // SAFETY: `buf` has room for `len` bytes and the NUL Node-API writes.
    check(
        unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            )
        },
        "napi_get_value_string_utf8",
    )?;
    buf.truncate(written);
    String::from_utf8(buf).map_err(|e| napi::Error::from_reason(e.to_string()))
}

pub(crate) fn is_array(env: sys::napi_env, value: Raw) -> napi::Result<bool> {
    let mut out = false;
    // SAFETY: on the env's thread.
    check(
        unsafe { sys::napi_is_array(env, value, &mut out) },
        "napi_is_array",
    )?;
    Ok(out)
}

pub(crate) fn array_length(env: sys::napi_env, value: Raw) -> napi::Result<u32> {
    let mut out = 0;
    // SAFETY: on the env's thread; `value` is an array (checked by callers).
    check(
        unsafe { sys::napi_get_array_length(env, value, &mut out) },
        "napi_get_array_length",
    )?;
    Ok(out)
}

/// The bytes a `Buffer`, typed array, `DataView` or `ArrayBuffer` views,
/// copied; `None` for any other value.
pub(crate) fn bytes_of(env: sys::napi_env, value: Raw) -> napi::Result<Option<Vec<u8>>> {
    let mut yes = false;
    let mut data: *mut c_void = ptr::null_mut();
    let mut len = 0usize;
    // SAFETY (all four branches): on the env's thread; each `is_*` check
    // comes before the matching `get_*_info`, which reports a pointer and
    // length valid while `value` lives, and the bytes are copied at once.
    unsafe {
        check(
            sys::napi_is_typedarray(env, value, &mut yes),
            "napi_is_typedarray",
        )?;
        if yes {
            let (mut kind, mut count, mut buffer, mut offset) =
                (0, 0usize, ptr::null_mut(), 0usize);
            check(
                sys::napi_get_typedarray_info(
                    env,
                    value,
                    &mut kind,
                    &mut count,
                    &mut data,
                    &mut buffer,
                    &mut offset,
                ),
                "napi_get_typedarray_info",
            )?;
            let width = match kind {
                sys::TypedarrayType::int8_array
                | sys::TypedarrayType::uint8_array
                | sys::TypedarrayType::uint8_clamped_array => 1,
                sys::TypedarrayType::int16_array | sys::TypedarrayType::uint16_array => 2,
                sys::TypedarrayType::int32_array
                | sys::TypedarrayType::uint32_array
                | sys::TypedarrayType::float32_array => 4,
                _ => 8,
            };
            return Ok(Some(copy(data, count * width)));
        }
        check(
            sys::napi_is_dataview(env, value, &mut yes),
            "napi_is_dataview",
        )?;
        if yes {
            let (mut buffer, mut offset) = (ptr::null_mut(), 0usize);
            check(
                sys::napi_get_dataview_info(
                    env,
                    value,
                    &mut len,
                    &mut data,
                    &mut buffer,
                    &mut offset,
                ),
                "napi_get_dataview_info",
            )?;
            return Ok(Some(copy(data, len)));
        }
        check(
            sys::napi_is_arraybuffer(env, value, &mut yes),
            "napi_is_arraybuffer",
        )?;
        if yes {
            check(
                sys::napi_get_arraybuffer_info(env, value, &mut data, &mut len),
                "napi_get_arraybuffer_info",
            )?;
            return Ok(Some(copy(data, len)));
        }
    }
    Ok(None)
}

/// Copies `len` bytes at `data` (which may be null when `len` is 0).
///
/// # Safety
///
/// `data` must point to `len` readable bytes unless `len` is 0.
unsafe fn copy(data: *mut c_void, len: usize) -> Vec<u8> {
    if len == 0 || data.is_null() {
        return Vec::new();
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec()
}

/// The object's own enumerable string keys, as `Object.keys` gives them.
pub(crate) fn keys(env: sys::napi_env, object: Raw) -> napi::Result<Vec<(String, Raw)>> {
    let mut names = ptr::null_mut();
    // SAFETY: on the env's thread; `object` is an object (checked by callers).
    check(
        unsafe {
            sys::napi_get_all_property_names(
                env,
                object,
                sys::KeyCollectionMode::own_only,
                sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                sys::KeyConversion::numbers_to_strings,
                &mut names,
            )
        },
        "napi_get_all_property_names",
    )?;
    let len = array_length(env, names)?;
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let key = get_element(env, names, i)?;
        out.push((get_string(env, key)?, key));
    }
    Ok(out)
}

/// `globalThis[name]`.
fn global_named(env: sys::napi_env, name: &str) -> napi::Result<Raw> {
    let mut global = ptr::null_mut();
    // SAFETY: on the env's thread.
    check(
        unsafe { sys::napi_get_global(env, &mut global) },
        "napi_get_global",
    )?;
    get_named(env, global, name)
}

/// Whether `value` is an instance of the global constructor `name`.
pub(crate) fn is_instance_of(env: sys::napi_env, value: Raw, name: &str) -> napi::Result<bool> {
    let constructor = global_named(env, name)?;
    if type_of(env, constructor)? != sys::ValueType::napi_function {
        return Ok(false);
    }
    let mut out = false;
    // SAFETY: on the env's thread; `constructor` is a function.
    check(
        unsafe { sys::napi_instanceof(env, value, constructor, &mut out) },
        "napi_instanceof",
    )?;
    Ok(out)
}

/// `new globalThis[name]()`, e.g. a `WeakMap`.
pub(crate) fn new_global(env: sys::napi_env, name: &str) -> napi::Result<Raw> {
    let constructor = global_named(env, name)?;
    make!("napi_new_instance", |out| sys::napi_new_instance(
        env,
        constructor,
        0,
        ptr::null(),
        &mut out
    ))
}

/// Calls `object[method](...args)`.
pub(crate) fn call_method(
    env: sys::napi_env,
    object: Raw,
    method: &str,
    args: &[Raw],
) -> napi::Result<Raw> {
    let function = get_named(env, object, method)?;
    make!("napi_call_function", |out| sys::napi_call_function(
        env,
        object,
        function,
        args.len(),
        args.as_ptr(),
        &mut out
    ))
}

/// A new `Error` (or `TypeError`, `RangeError`) with `code` and `message`.
pub(crate) fn error(
    env: sys::napi_env,
    class: ErrorClass,
    code: &str,
    message: &str,
) -> napi::Result<Raw> {
    let code = string(env, code)?;
    let message = string(env, message)?;
    match class {
        ErrorClass::Error => make!("napi_create_error", |out| sys::napi_create_error(
            env, code, message, &mut out
        )),
        ErrorClass::TypeError => make!("napi_create_type_error", |out| {
            sys::napi_create_type_error(env, code, message, &mut out)
        }),
        ErrorClass::RangeError => make!("napi_create_range_error", |out| {
            sys::napi_create_range_error(env, code, message, &mut out)
        }),
    }
}

/// Which constructor [`error`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    Error,
    TypeError,
    RangeError,
}

/// A strong reference keeping a value alive across turns of the event loop;
/// released with [`Ref::release`] on the same thread.
#[derive(Debug)]
pub(crate) struct Ref(sys::napi_ref);

impl Ref {
    pub(crate) fn new(env: sys::napi_env, value: Raw) -> napi::Result<Ref> {
        let mut out = ptr::null_mut();
        // SAFETY: on the env's thread.
        check(
            unsafe { sys::napi_create_reference(env, value, 1, &mut out) },
            "napi_create_reference",
        )?;
        Ok(Ref(out))
    }

    pub(crate) fn get(&self, env: sys::napi_env) -> napi::Result<Raw> {
        make!("napi_get_reference_value", |out| {
            sys::napi_get_reference_value(env, self.0, &mut out)
        })
    }

    pub(crate) fn release(self, env: sys::napi_env) {
        // SAFETY: on the env's thread; the reference is deleted once.
        unsafe { sys::napi_delete_reference(env, self.0) };
    }
}

/// A JavaScript function that calls `callback` each time it is called, and
/// drops it when the function is garbage-collected.
pub(crate) fn function<F: Fn() + 'static>(
    env: sys::napi_env,
    name: &str,
    callback: F,
) -> napi::Result<Raw> {
    unsafe extern "C" fn trampoline<F: Fn()>(
        env: sys::napi_env,
        info: sys::napi_callback_info,
    ) -> sys::napi_value {
        let mut data = ptr::null_mut();
        let mut argc = 0;
        // SAFETY: Node-API calls this with a valid `info`; `data` is the
        // boxed `F` given at creation, alive until the finalizer runs.
        unsafe {
            if sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                ptr::null_mut(),
                ptr::null_mut(),
                &mut data,
            ) == sys::Status::napi_ok
                && !data.is_null()
            {
                let callback = &*data.cast::<F>();
                // A panic must not unwind into V8.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(callback));
            }
        }
        ptr::null_mut()
    }
    unsafe extern "C" fn finalize<F>(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
        // SAFETY: `data` is the box made below, finalized once.
        drop(unsafe { Box::from_raw(data.cast::<F>()) });
    }
    let name = CString::new(name).map_err(|e| napi::Error::from_reason(e.to_string()))?;
    let data = Box::into_raw(Box::new(callback));
    let mut out = ptr::null_mut();
    // SAFETY: on the env's thread; `data` outlives the function (freed by
    // its finalizer, or here if the function could not be made).
    unsafe {
        let status = sys::napi_create_function(
            env,
            name.as_ptr(),
            name.as_bytes().len() as isize,
            Some(trampoline::<F>),
            data.cast(),
            &mut out,
        );
        if status != sys::Status::napi_ok {
            drop(Box::from_raw(data));
            return check(status, "napi_create_function").map(|()| out);
        }
        let status = sys::napi_add_finalizer(
            env,
            out,
            data.cast(),
            Some(finalize::<F>),
            ptr::null_mut(),
            ptr::null_mut(),
        );
        if status != sys::Status::napi_ok {
            drop(Box::from_raw(data));
            return check(status, "napi_add_finalizer").map(|()| out);
        }
    }
    Ok(out)
}
