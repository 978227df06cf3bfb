//! Guest SDK for [wasmudf]: write SQLite user-defined functions in plain
//! Rust and compile them to a sandboxed WebAssembly component.
//!
//! A guest crate is a `cdylib` built for `wasm32-wasip2`. It defines scalar
//! functions with [`macro@scalar`], aggregate functions by implementing
//! [`Aggregate`] and window functions by also implementing [`Window`], then
//! lists everything once with [`export!`]. Guest authors never see WIT.
//!
//! ```
//! use wasmudf_guest::{Aggregate, Error, Flags};
//!
//! /// `add(a, b)`: the sum of two integers.
//! #[wasmudf_guest::scalar(deterministic, innocuous)]
//! fn add(a: i64, b: i64) -> Result<i64, Error> {
//!     a.checked_add(b).ok_or_else(|| Error::new("integer overflow"))
//! }
//!
//! /// `concat_all(...)`: variadic, any number of arguments.
//! #[wasmudf_guest::scalar(name = "concat_all", deterministic)]
//! fn concat(args: &[wasmudf_guest::Value]) -> String {
//!     args.iter().filter_map(|v| match v {
//!         wasmudf_guest::Value::Text(s) => Some(s.as_str()),
//!         _ => None,
//!     }).collect()
//! }
//!
//! /// `total(x)`: an aggregate.
//! #[derive(Default)]
//! struct Total(f64);
//!
//! impl Aggregate for Total {
//!     const NAME: &'static str = "total";
//!     const FLAGS: Flags = Flags::DETERMINISTIC;
//!     type Args<'a> = (f64,);
//!     type Output = f64;
//!     fn step(&mut self, (x,): (f64,)) -> Result<(), Error> {
//!         self.0 += x;
//!         Ok(())
//!     }
//!     fn finalize(self) -> Result<f64, Error> {
//!         Ok(self.0)
//!     }
//! }
//!
//! wasmudf_guest::export! {
//!     scalars: [add, concat],
//!     aggregates: [Total],
//! }
//!
//! // The functions stay ordinary Rust functions.
//! assert_eq!(add(1, 2).unwrap(), 3);
//! # fn main() {}
//! ```
//!
//! # SQL NULL convention
//!
//! When an SQL NULL reaches a parameter whose type cannot hold NULL (any
//! type other than `Option<_>`, `&Value` or `Value`), the function body is
//! not run:
//!
//! * a scalar function returns NULL;
//! * an aggregate or window function skips that row: it is passed neither to
//!   [`Aggregate::step`] nor to [`Window::inverse`].
//!
//! Take `Option<T>` (or [`Value`]) to see NULLs yourself.
//!
//! # Type conversions
//!
//! Arguments are converted with [`FromValue`]; a value of the wrong storage
//! class is an error such as `argument 1 must be TEXT, got INTEGER` (the host
//! prefixes the function name). Results are converted with [`IntoValue`];
//! a scalar may also return `Result<T, E>` for any `E: Display`, where `Err`
//! becomes the SQL error message.
//!
//! [wasmudf]: https://github.com/wasmudf/wasmudf

#![deny(missing_docs)]

mod args;
mod error;
mod value;

#[doc(hidden)]
pub mod __private;

/// Bindings generated from the `wasmudf:udf` WIT package. Not a stable API.
#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "udf",
        pub_export_macro: true,
        default_bindings_module: "wasmudf_guest::bindings",
        export_macro_name: "__export_component",
        additional_derives: [PartialEq],
    });
}

pub use args::FromArgs;
pub use error::Error;
pub use value::{FromValue, IntoValue, Value};
pub use __private::{Aggregate, Flags, ScalarDef, Window};

/// Turns a plain Rust `fn` into a scalar SQL function.
///
/// ```
/// #[wasmudf_guest::scalar(name = "double_it", deterministic, innocuous)]
/// fn double(x: i64) -> i64 {
///     x.wrapping_mul(2)
/// }
/// # wasmudf_guest::export! { scalars: [double] }
/// # fn main() { assert_eq!(double(2), 4); }
/// ```
///
/// Options, all optional:
///
/// * `name = "sql_name"`: the SQL name; the default is the Rust name.
/// * `deterministic`, `innocuous`, `direct_only`: the SQLite function flags
///   (see [`Flags`]); none is set unless named.
///
/// The arity is the number of parameters. Each parameter type implements
/// [`FromValue`] and the return type implements [`IntoValue`], or is a
/// `Result<T, E>` with `T: IntoValue` and `E: Display`. A function whose only
/// parameter is `&[Value]` is variadic (arity -1) and receives the arguments
/// as they are.
///
/// The function stays callable from Rust. The attribute also generates, in
/// the same scope, a hidden module of the same name that [`export!`] uses.
/// See the crate docs for the SQL NULL convention.
pub use wasmudf_guest_macros::scalar;

/// Exports the component: lists every scalar, aggregate and window function
/// it provides.
///
/// ```
/// # #[wasmudf_guest::scalar] fn identity(x: wasmudf_guest::Value) -> wasmudf_guest::Value { x }
/// wasmudf_guest::export! {
///     scalars: [identity],
///     // aggregates: [Median],
///     // windows: [SumSq],
/// }
/// # fn main() {}
/// ```
///
/// Each section is optional, but their order is fixed: `scalars` (names of
/// functions marked with [`macro@scalar`], optionally with a module path),
/// `aggregates` (types implementing [`Aggregate`]), `windows` (types
/// implementing [`Window`]). Invoke it once per crate, at module level.
#[macro_export]
macro_rules! export {
    (
        $( scalars: [ $( $($scalar:ident)::+ ),* $(,)? ] $(,)? )?
        $( aggregates: [ $( $agg:ty ),* $(,)? ] $(,)? )?
        $( windows: [ $( $win:ty ),* $(,)? ] $(,)? )?
    ) => {
        const _: () = {
            #[doc(hidden)]
            #[derive(Debug)]
            struct __WasmudfComponent;

            impl $crate::__private::Component for __WasmudfComponent {
                const ENTRIES: &'static [$crate::__private::Entry] = &[
                    $($( $crate::__private::Entry::Scalar($($scalar)::+::DEF), )*)?
                    $($( $crate::__private::aggregate_entry::<$agg>(), )*)?
                    $($( $crate::__private::window_entry::<$win>(), )*)?
                ];
            }

            $crate::bindings::__export_component!(__WasmudfComponent with_types_in $crate::bindings);
        };
    };
}
