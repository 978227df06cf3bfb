//! Cheap structural limits, checked on a component's bytes before it is
//! compiled.
//!
//! Cranelift's time and memory grow with the number of functions and the
//! size of their bodies, and nothing can stop a compilation once it has
//! started: a 2 MB component of 100,000 tiny functions costs about 1 GiB
//! and a minute. Reading the section headers with wasmparser costs
//! microseconds, so a component over the limits is refused before any
//! compilation. Validation proper is left to wasmtime.

use wasmparser::{Parser, Payload};

use crate::limits::Limits;

/// Counts functions, code bytes and locals over every core module nested
/// in `bytes`, stopping at the first limit passed. `Err` says which limit
/// and what was found. Bytes that do not parse are left for wasmtime to
/// reject with its own message.
pub(crate) fn check(bytes: &[u8], limits: &Limits) -> Result<(), String> {
    let (mut functions, mut code_bytes) = (0u64, 0u64);
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else {
            return Ok(());
        };
        match payload {
            Payload::CodeSectionStart { count, size, .. } => {
                functions += u64::from(count);
                code_bytes += u64::from(size);
                if functions > u64::from(limits.max_wasm_functions) {
                    return Err(format!(
                        "it defines more than {} functions (Limits::max_wasm_functions, \
                         --max-wasm-functions)",
                        limits.max_wasm_functions
                    ));
                }
                if code_bytes > limits.max_code_bytes as u64 {
                    return Err(format!(
                        "it has more than {} bytes of code (Limits::max_code_bytes, \
                         --max-code-mib)",
                        limits.max_code_bytes
                    ));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let Ok(reader) = body.get_locals_reader() else {
                    return Ok(());
                };
                let mut locals = 0u64;
                for decl in reader {
                    let Ok((count, _)) = decl else {
                        return Ok(());
                    };
                    locals += u64::from(count);
                }
                if locals > u64::from(limits.max_function_locals) {
                    return Err(format!(
                        "a function declares {locals} locals, over the limit of {} \
                         (Limits::max_function_locals)",
                        limits.max_function_locals
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with `n` functions of `locals` locals each, as binary.
    fn module(n: usize, locals: u32) -> Vec<u8> {
        let mut wat = String::from("(module\n");
        for _ in 0..n {
            wat.push_str("(func (local");
            for _ in 0..locals {
                wat.push_str(" i32");
            }
            wat.push_str("))\n");
        }
        wat.push(')');
        wat::parse_str(&wat).expect("valid wat")
    }

    #[test]
    fn refuses_too_many_functions() {
        let limits = Limits {
            max_wasm_functions: 10,
            ..Limits::default()
        };
        assert!(check(&module(10, 0), &limits).is_ok());
        let err = check(&module(11, 0), &limits).expect_err("11 functions");
        assert!(err.contains("more than 10 functions"), "{err}");
    }

    #[test]
    fn refuses_too_many_locals_and_too_much_code() {
        let limits = Limits {
            max_function_locals: 4,
            ..Limits::default()
        };
        let err = check(&module(1, 5), &limits).expect_err("5 locals");
        assert!(err.contains("5 locals"), "{err}");
        let limits = Limits {
            max_code_bytes: 16,
            ..Limits::default()
        };
        let err = check(&module(20, 0), &limits).expect_err("code bytes");
        assert!(err.contains("bytes of code"), "{err}");
    }

    #[test]
    fn counts_modules_nested_in_a_component() {
        let component =
            wat::parse_str("(component (core module (func) (func)) (core module (func)))")
                .expect("valid wat");
        let limits = |max_wasm_functions| Limits {
            max_wasm_functions,
            ..Limits::default()
        };
        assert!(check(&component, &limits(3)).is_ok());
        assert!(check(&component, &limits(2)).is_err());
    }
}
