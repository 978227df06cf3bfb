//! Hostile test guest: reads the environment variables and arguments the
//! host passes to the instance.

/// `env_count() -> INTEGER`: the number of environment variables.
#[wasmudf_guest::scalar]
pub fn env_count() -> i64 {
    std::env::vars_os().count() as i64
}

/// `env_var(name TEXT) -> TEXT`: the variable's value, or NULL when unset
/// (or not valid UTF-8).
#[wasmudf_guest::scalar]
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `arg_count() -> INTEGER`: the number of command-line arguments.
#[wasmudf_guest::scalar]
pub fn arg_count() -> i64 {
    std::env::args_os().count() as i64
}

wasmudf_guest::export! {
    scalars: [env_count, env_var, arg_count],
}
