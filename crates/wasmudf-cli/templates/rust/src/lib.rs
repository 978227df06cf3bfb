//! `{{ident}}_hello(name TEXT) -> TEXT`: a wasmudf guest.

/// Greets `name`; NULL gives NULL.
#[wasmudf_guest::scalar(deterministic)]
pub fn {{ident}}_hello(name: &str) -> String {
    format!("hello, {name}")
}

wasmudf_guest::export! {
    scalars: [{{ident}}_hello],
}
