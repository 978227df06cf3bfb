//! Host bindings generated from `wit/udf.wit`.
//!
//! Arguments are lowered from borrowed data (`ValueParam<'a>` holds `&str` /
//! `&[u8]`) so a call copies a TEXT or BLOB argument once, straight from
//! SQLite's memory into the guest's, with no host-side allocation.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "udf",
    ownership: Borrowing { duplicate_if_necessary: true },
    additional_derives: [PartialEq],
});

pub(crate) use exports::wasmudf::udf::guest::{
    FastResult, FunctionFlags as WitFlags, FunctionKind as WitKind, FunctionSpec as WitSpec,
    Number, ValueParam, ValueResult,
};
