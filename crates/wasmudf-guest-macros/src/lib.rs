//! Procedural macros for the wasmudf guest SDK.
//!
//! Use them through `wasmudf_guest`, which re-exports [`macro@scalar`] and
//! documents it; the generated code refers to `::wasmudf_guest` paths.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::{FnArg, ItemFn, LitStr, Type, parse_macro_input, spanned::Spanned};

/// Turns a plain Rust `fn` into a scalar SQL function.
///
/// See `wasmudf_guest::scalar` for the full documentation.
#[proc_macro_attribute]
pub fn scalar(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut name: Option<LitStr> = None;
    let mut deterministic = false;
    let mut innocuous = false;
    let mut direct_only = false;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            name = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("deterministic") {
            deterministic = true;
            Ok(())
        } else if meta.path.is_ident("innocuous") {
            innocuous = true;
            Ok(())
        } else if meta.path.is_ident("direct_only") {
            direct_only = true;
            Ok(())
        } else {
            Err(meta.error(
                "unknown option; expected `name = \"...\"`, `deterministic`, `innocuous` or `direct_only`",
            ))
        }
    });
    parse_macro_input!(attr with parser);
    let func = parse_macro_input!(item as ItemFn);
    match expand(func, name, deterministic, innocuous, direct_only) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Whether `ty` is `&[Value]` (any path ending in `Value`, any lifetime).
fn is_value_slice(ty: &Type) -> bool {
    let Type::Reference(r) = ty else { return false };
    if r.mutability.is_some() {
        return false;
    }
    let Type::Slice(s) = &*r.elem else {
        return false;
    };
    let Type::Path(p) = &*s.elem else {
        return false;
    };
    p.qself.is_none()
        && p.path
            .segments
            .last()
            .is_some_and(|seg| seg.ident == "Value")
}

fn expand(
    func: ItemFn,
    name: Option<LitStr>,
    deterministic: bool,
    innocuous: bool,
    direct_only: bool,
) -> syn::Result<TokenStream2> {
    let sig = &func.sig;
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(c.span(), "a scalar UDF cannot be `const`"));
    }
    if let Some(a) = &sig.asyncness {
        return Err(syn::Error::new(a.span(), "a scalar UDF cannot be `async`"));
    }
    if !sig.generics.params.is_empty() {
        // Lifetimes are fine as long as they are elidable; type and const
        // parameters cannot be chosen by SQL.
        if sig
            .generics
            .params
            .iter()
            .any(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
        {
            return Err(syn::Error::new(
                sig.generics.span(),
                "a scalar UDF cannot have type or const parameters",
            ));
        }
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.span(),
            "C variadics are not supported; take `&[Value]`",
        ));
    }
    let mut types = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                return Err(syn::Error::new(r.span(), "a scalar UDF cannot take `self`"));
            }
            FnArg::Typed(pt) => types.push(&*pt.ty),
        }
    }
    if types.len() > i16::MAX as usize {
        return Err(syn::Error::new(sig.inputs.span(), "too many parameters"));
    }

    let ident = &sig.ident;
    let vis = &func.vis;
    let sql_name = name.unwrap_or_else(|| LitStr::new(&ident.to_string(), ident.span()));
    let call_ident = format_ident!("__wasmudf_call_{}", ident);
    let unsafety = sig.unsafety.is_some();
    if unsafety {
        return Err(syn::Error::new(
            sig.span(),
            "a scalar UDF cannot be `unsafe`",
        ));
    }

    let variadic = types.len() == 1 && is_value_slice(types[0]);
    let sig_ident = format_ident!("__wasmudf_signature_{}", ident);
    let generics = &sig.generics;
    let returns = match &sig.output {
        syn::ReturnType::Default => quote! { ::wasmudf_guest::ValueType::Any },
        syn::ReturnType::Type(_, ty) => {
            quote! { <#ty as ::wasmudf_guest::__private::IntoResult>::TYPE }
        }
    };
    let params = if variadic {
        quote! { ::std::vec![::wasmudf_guest::ValueType::Any] }
    } else {
        let each = types
            .iter()
            .map(|ty| quote! { <#ty as ::wasmudf_guest::FromValue<'_>>::TYPE });
        quote! { ::std::vec![#(#each),*] }
    };
    let columns_ident = format_ident!("__wasmudf_columns_{}", ident);
    let (arity, body, columns) = if variadic {
        (
            -1i16,
            quote! {
                ::wasmudf_guest::__private::IntoResult::into_result(#ident(__args))
            },
            None,
        )
    } else {
        let n = types.len();
        let names: Vec<_> = (0..n).map(|i| format_ident!("__a{}", i)).collect();
        let lets = types.iter().enumerate().map(|(i, ty)| {
            let var = &names[i];
            let pos = i + 1;
            quote! {
                let #var: #ty = match ::wasmudf_guest::__private::arg(&__args[#i], #pos)? {
                    ::core::option::Option::Some(v) => v,
                    ::core::option::Option::None => {
                        return ::core::result::Result::Ok(::wasmudf_guest::Value::Null)
                    }
                };
            }
        });
        // The batched call reads each argument in place from its column
        // (`FromValue::from_column`) and writes the result straight into
        // the result column; the NULL rule and the messages are the row
        // call's.
        let column_lets = types.iter().enumerate().map(|(i, ty)| {
            let var = &names[i];
            let pos = i + 1;
            quote! {
                let #var: #ty = match ::wasmudf_guest::__private::column_arg(&__cols[#i], __row, #pos)? {
                    ::core::option::Option::Some(v) => v,
                    ::core::option::Option::None => {
                        __out.push_null();
                        continue;
                    }
                };
            }
        });
        let columns = quote! {
            if __rows > 0 {
                ::wasmudf_guest::__private::check_arity(__cols.len(), #n)?;
            }
            // An array, so that reading a column costs no bounds check; a
            // wrong count with no rows does nothing, as the row calls would.
            let ::core::result::Result::Ok(__cols) =
                <&[::wasmudf_guest::__private::ColumnRef<'_>; #n]>::try_from(__cols)
            else {
                return ::core::result::Result::Ok(());
            };
            for __row in 0..__rows {
                #(#column_lets)*
                ::wasmudf_guest::__private::IntoResult::push_result(#ident(#(#names),*), __out)?;
            }
            ::core::result::Result::Ok(())
        };
        (
            n as i16,
            quote! {
                ::wasmudf_guest::__private::check_arity(__args.len(), #n)?;
                #(#lets)*
                ::wasmudf_guest::__private::IntoResult::into_result(#ident(#(#names),*))
            },
            Some(columns),
        )
    };
    let (columns_fn, columns_def) = match columns {
        Some(body) => (
            quote! {
                #[doc(hidden)]
                #[allow(non_snake_case, clippy::needless_lifetimes)]
                fn #columns_ident(
                    __cols: &[::wasmudf_guest::__private::ColumnRef<'_>],
                    __rows: usize,
                    __out: &mut ::wasmudf_guest::__private::ColumnBuilder,
                ) -> ::core::result::Result<(), ::wasmudf_guest::Error> {
                    #body
                }
            },
            quote! { ::core::option::Option::Some(super::#columns_ident) },
        ),
        None => (quote! {}, quote! { ::core::option::Option::None }),
    };

    let mut flags = quote! { ::wasmudf_guest::Flags::NONE };
    for (on, c) in [
        (deterministic, "DETERMINISTIC"),
        (innocuous, "INNOCUOUS"),
        (direct_only, "DIRECT_ONLY"),
    ] {
        if on {
            let c = syn::Ident::new(c, Span::call_site());
            flags = quote! { #flags.union(::wasmudf_guest::Flags::#c) };
        }
    }

    Ok(quote! {
        #func

        #[doc(hidden)]
        #[allow(non_snake_case, clippy::needless_lifetimes)]
        fn #call_ident(
            __args: &[::wasmudf_guest::Value],
        ) -> ::core::result::Result<::wasmudf_guest::Value, ::wasmudf_guest::Error> {
            #body
        }

        #columns_fn

        // The user's generics (lifetimes only) keep named lifetimes in the
        // parameter types in scope.
        #[doc(hidden)]
        #[allow(non_snake_case, clippy::extra_unused_lifetimes)]
        fn #sig_ident #generics () -> ::wasmudf_guest::__private::Signature {
            ::wasmudf_guest::__private::Signature {
                returns: #returns,
                params: #params,
            }
        }

        #[doc(hidden)]
        #[allow(non_snake_case, non_camel_case_types)]
        #vis mod #ident {
            /// The registration of this scalar function, found by `export!`.
            pub const DEF: ::wasmudf_guest::ScalarDef = ::wasmudf_guest::ScalarDef {
                name: #sql_name,
                arity: #arity,
                flags: #flags,
                call: super::#call_ident,
                call_columns: #columns_def,
                signature: super::#sig_ident,
            };
        }
    })
}
