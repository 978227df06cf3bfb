//! Host bindings for `wasmudf:udf@0.2.0` and `@0.1.0`.
//!
//! The types come from `wasmtime::component::bindgen!` over `wit/` (0.2.0).
//! The exports are looked up here rather than through the generated `Udf`
//! struct, because that struct binds one interface name and a 0.1.0
//! component exports another: wasmtime matches export names exactly, and
//! 0.1 and 0.2 are different semver tracks. Every function 0.1.0 has, it
//! has with the same type (only `function-spec` grew, so the manifest is
//! lifted through the 0.1.0 bindings' own type); so one table of typed
//! exports serves both versions, with the 0.2.0 additions absent for a
//! 0.1.0 component.
//!
//! Arguments are lowered from borrowed data (`ValueParam<'a>` holds `&str` /
//! `&[u8]`) so a call copies a TEXT or BLOB argument once, straight from
//! SQLite's memory into the guest's, with no host-side allocation.

use wasmtime::component::{ComponentExportIndex, Func, Instance, InstancePre, ResourceAny};
use wasmtime::{AsContextMut, Store};

/// The 0.2.0 world; its `Udf` struct is unused (see the module docs).
#[allow(dead_code, clippy::all)]
mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "udf",
        ownership: Borrowing { duplicate_if_necessary: true },
        additional_derives: [PartialEq],
    });
}

/// The 0.1.0 world, for the one type that changed: `function-spec`.
#[allow(dead_code, clippy::all)]
mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../../wit/0.1.0",
        world: "udf",
        additional_derives: [PartialEq],
    });
}

pub(crate) use v0_1::exports::wasmudf::udf::guest::{
    FunctionFlags as WitFlagsV0_1, FunctionKind as WitKindV0_1, FunctionSpec as WitSpecV0_1,
};
pub(crate) use v0_2::exports::wasmudf::udf::guest::{
    BlobColumnParam, BlobColumnResult, ColumnParam, ColumnResult, FastResult,
    FunctionFlags as WitFlags, FunctionKind as WitKind, FunctionSpec as WitSpec,
    IntegerColumnParam, IntegerColumnResult, Number, RealColumnParam, RealColumnResult,
    TextColumnParam, TextColumnResult, ValueParam, ValueResult, ValueType as WitType,
};

/// The package every wasmudf component exports an interface of.
pub(crate) const GUEST_INTERFACE: &str = "wasmudf:udf/guest";

/// Whether export `name` is [`GUEST_INTERFACE`] at some version (or at
/// none): `wasmudf:udf/guest@0.2.0` is, `wasmudf:udf/guest-extra` is not.
pub(crate) fn is_guest_interface(name: &str) -> bool {
    name.strip_prefix(GUEST_INTERFACE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('@'))
}

/// A version of [`GUEST_INTERFACE`] this host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WitVersion {
    /// `wasmudf:udf@0.1.0`: the first release.
    V0_1,
    /// `wasmudf:udf@0.2.0`: declared types, batched columns, mergeable
    /// accumulators.
    V0_2,
}

impl WitVersion {
    /// Every version, newest first.
    pub(crate) const ALL: [WitVersion; 2] = [WitVersion::V0_2, WitVersion::V0_1];

    /// `"0.2.0"` or `"0.1.0"`.
    pub fn as_str(self) -> &'static str {
        match self {
            WitVersion::V0_1 => "0.1.0",
            WitVersion::V0_2 => "0.2.0",
        }
    }

    /// The interface's full export name, e.g. `wasmudf:udf/guest@0.2.0`.
    pub(crate) fn export_name(self) -> String {
        format!("{GUEST_INTERFACE}@{}", self.as_str())
    }
}

impl std::fmt::Display for WitVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares the table of exports: for each, its field, its name in the
/// interface, the versions that have it (with this type), and its type as parameters
/// and result. The macro writes the lookup (once per component), the type
/// check (once per instance, as bindgen's generated code does) and a method
/// per export that calls it.
macro_rules! guest_exports {
    ($( $field:ident = $name:literal in [$($v:ident),+] : fn($($arg:ident : $p:ty),*) -> $r:ty; )*) => {
        /// Where each export is in a component, resolved once per component.
        #[derive(Debug, Clone)]
        pub(crate) struct GuestIndices {
            version: WitVersion,
            $( $field: Option<ComponentExportIndex>, )*
        }

        impl GuestIndices {
            /// Finds the exports of interface `version` in `pre`'s component.
            /// `Err` names the first one missing.
            pub(crate) fn new<T>(pre: &InstancePre<T>, version: WitVersion) -> wasmtime::Result<Self> {
                let component = pre.component();
                let interface = component
                    .get_export_index(None, &version.export_name())
                    .ok_or_else(|| wasmtime::format_err!("no export `{}`", version.export_name()))?;
                let find = |name: &str, versions: &[WitVersion]| -> wasmtime::Result<Option<ComponentExportIndex>> {
                    if !versions.contains(&version) {
                        return Ok(None);
                    }
                    component
                        .get_export_index(Some(&interface), name)
                        .map(Some)
                        .ok_or_else(|| wasmtime::format_err!("no function `{name}`"))
                };
                Ok(GuestIndices {
                    version,
                    $( $field: find($name, &[$(WitVersion::$v),+])?, )*
                })
            }

            /// The interface version these exports belong to.
            pub(crate) fn version(&self) -> WitVersion {
                self.version
            }

            /// The exports of `instance`, each checked against its type.
            pub(crate) fn load<T>(&self, store: &mut Store<T>, instance: &Instance) -> wasmtime::Result<Udf> {
                Ok(Udf {
                    version: self.version,
                    $( $field: match &self.$field {
                        Some(index) => Some(
                            instance
                                .get_typed_func::<($($p,)*), ($r,)>(&mut *store, index)
                                .map_err(|e| e.context(concat!("function `", $name, "`")))?
                                .func()
                                .clone(),
                        ),
                        None => None,
                    }, )*
                })
            }
        }

        /// One instance's exports.
        #[derive(Debug, Clone)]
        pub(crate) struct Udf {
            version: WitVersion,
            $( $field: Option<Func>, )*
        }

        impl Udf {
            $(
                #[doc = concat!("Calls `", $name, "`.")]
                pub(crate) fn $field(&self, mut store: impl AsContextMut, $($arg: $p),*) -> wasmtime::Result<$r> {
                    let func = self.$field.ok_or_else(|| missing($name, self.version))?;
                    // SAFETY: `load` type-checked this function against
                    // exactly these parameter and result types (lifetimes
                    // aside, which the component model does not see); this
                    // is what bindgen's generated methods do too.
                    let typed = unsafe {
                        wasmtime::component::TypedFunc::<($($p,)*), ($r,)>::new_unchecked(func)
                    };
                    let (r,) = typed.call(store.as_context_mut(), ($($arg,)*))?;
                    Ok(r)
                }
            )*
        }
    };
}

/// A guest error.
type GuestResult<T> = Result<T, String>;

guest_exports! {
    manifest_v0_1 = "manifest" in [V0_1]: fn() -> Vec<WitSpecV0_1>;
    call0 = "call0" in [V0_1, V0_2]: fn(id: u32) -> GuestResult<ValueResult>;
    call1 = "call1" in [V0_1, V0_2]: fn(id: u32, a: ValueParam<'_>) -> GuestResult<ValueResult>;
    call2 = "call2" in [V0_1, V0_2]:
        fn(id: u32, a: ValueParam<'_>, b: ValueParam<'_>) -> GuestResult<ValueResult>;
    call3 = "call3" in [V0_1, V0_2]:
        fn(id: u32, a: ValueParam<'_>, b: ValueParam<'_>, c: ValueParam<'_>) -> GuestResult<ValueResult>;
    call = "call" in [V0_1, V0_2]: fn(id: u32, args: &[ValueParam<'_>]) -> GuestResult<ValueResult>;
    fast1 = "fast1" in [V0_1, V0_2]: fn(id: u32, a: Number) -> FastResult;
    fast2 = "fast2" in [V0_1, V0_2]: fn(id: u32, a: Number, b: Number) -> FastResult;
    fast3 = "fast3" in [V0_1, V0_2]: fn(id: u32, a: Number, b: Number, c: Number) -> FastResult;
    take_result = "take-result" in [V0_1, V0_2]: fn() -> GuestResult<ValueResult>;
    acc_create = "[static]accumulator.create" in [V0_1, V0_2]: fn(id: u32) -> GuestResult<ResourceAny>;
    acc_step = "[method]accumulator.step" in [V0_1, V0_2]:
        fn(acc: ResourceAny, args: &[ValueParam<'_>], rows: u32) -> GuestResult<()>;
    acc_step_integers = "[method]accumulator.step-integers" in [V0_1, V0_2]:
        fn(acc: ResourceAny, args: &[i64], rows: u32) -> GuestResult<()>;
    acc_step_reals = "[method]accumulator.step-reals" in [V0_1, V0_2]:
        fn(acc: ResourceAny, args: &[f64], rows: u32) -> GuestResult<()>;
    acc_inverse = "[method]accumulator.inverse" in [V0_1, V0_2]:
        fn(acc: ResourceAny, args: &[ValueParam<'_>], rows: u32) -> GuestResult<()>;
    acc_value = "[method]accumulator.value" in [V0_1, V0_2]: fn(acc: ResourceAny) -> GuestResult<ValueResult>;
    acc_finish = "[static]accumulator.finish" in [V0_1, V0_2]: fn(acc: ResourceAny) -> GuestResult<ValueResult>;
    manifest_v0_2 = "manifest" in [V0_2]: fn() -> Vec<WitSpec>;
    call_columns = "call-columns" in [V0_2]:
        fn(id: u32, args: &[ColumnParam<'_>], rows: u32) -> GuestResult<ColumnResult>;
    acc_step_columns = "[method]accumulator.step-columns" in [V0_2]:
        fn(acc: ResourceAny, args: &[ColumnParam<'_>], rows: u32) -> GuestResult<()>;
    acc_inverse_columns = "[method]accumulator.inverse-columns" in [V0_2]:
        fn(acc: ResourceAny, args: &[ColumnParam<'_>], rows: u32) -> GuestResult<()>;
    acc_serialize = "[method]accumulator.serialize" in [V0_2]: fn(acc: ResourceAny) -> GuestResult<Vec<u8>>;
    acc_merge = "[method]accumulator.merge" in [V0_2]:
        fn(acc: ResourceAny, state: &[u8]) -> GuestResult<()>;
    cursor_open = "[static]cursor.open" in [V0_2]:
        fn(id: u32, args: &[ValueParam<'_>]) -> GuestResult<ResourceAny>;
    cursor_next = "[method]cursor.next" in [V0_2]:
        fn(cursor: ResourceAny, max_rows: u32) -> GuestResult<Vec<ValueResult>>;
}

fn missing(name: &str, version: WitVersion) -> wasmtime::Error {
    wasmtime::format_err!(
        "this component targets {}, which has no `{name}`",
        version.export_name()
    )
}

impl Udf {
    /// The interface version this instance's exports belong to.
    pub(crate) fn version(&self) -> WitVersion {
        self.version
    }
}
