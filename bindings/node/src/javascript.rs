//! JavaScript UDF modules: built into components by the JavaScript guest
//! SDK in a child Node.js process (`lib/build-javascript.mjs`), which
//! caches them by content.

use std::path::{Path, PathBuf};
use std::process::Command;

use napi::{Env, JsValue};

use crate::database::blocking;
use crate::errors::Failure;
use crate::raw;

/// Where to find Node.js, this package and the JavaScript guest SDK; read
/// on the JavaScript thread when a database is made.
#[derive(Debug, Clone)]
pub(crate) struct NodeContext {
    /// `process.execPath`: the same Node.js that runs the caller.
    node: PathBuf,
    /// This package's folder (where its `.node` file is).
    package: PathBuf,
}

impl NodeContext {
    pub(crate) fn of(env: &Env) -> napi::Result<NodeContext> {
        let env_raw = env.raw();
        let global = env.get_global()?.raw();
        let process = raw::get_named(env_raw, global, "process")?;
        let exec_path = raw::get_named(env_raw, process, "execPath")?;
        let node = PathBuf::from(raw::get_string(env_raw, exec_path)?);
        let package = env
            .get_module_file_name()
            .ok()
            .and_then(|url| file_url_path(&url))
            .and_then(|file| file.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        Ok(NodeContext { node, package })
    }

    /// The JavaScript guest SDK: `$WASMUDF_JS_SDK`, else `guests/js` of
    /// the checkout this package is in.
    fn sdk(&self) -> PathBuf {
        match std::env::var_os("WASMUDF_JS_SDK") {
            Some(dir) => PathBuf::from(dir),
            None => self.package.join("..").join("..").join("guests").join("js"),
        }
    }
}

/// A `file://` URL's path (percent-escapes decoded), as Node-API names the
/// addon's file.
fn file_url_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("file://")?;
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Some(PathBuf::from(std::ffi::OsString::from_vec(out)))
    }
    #[cfg(not(unix))]
    {
        String::from_utf8(out).ok().map(PathBuf::from)
    }
}

/// The cache folder of built JavaScript components.
fn cache_dir() -> PathBuf {
    wasmudf::default_cache_dir()
        .map(|dir| dir.join("js"))
        .unwrap_or_else(|| std::env::temp_dir().join("wasmudf-js"))
}

/// Builds the module at `entry` (or finds it in the cache) and returns the
/// component file's path.
pub(crate) async fn build(node: NodeContext, entry: PathBuf) -> Result<PathBuf, Failure> {
    blocking(move || {
        let script = node.package.join("lib").join("build-javascript.mjs");
        let output = Command::new(&node.node)
            .arg(&script)
            .arg(node.sdk())
            .arg(&entry)
            .arg(cache_dir())
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| {
                Failure::coded(
                    "ERR_WASMUDF_JS_BUILD",
                    format!("cannot run {}: {e}", node.node.display()),
                )
            })?;
        if !output.status.success() {
            let message = String::from_utf8_lossy(&output.stderr);
            return Err(Failure::coded(
                "ERR_WASMUDF_JS_BUILD",
                format!(
                    "{}: {}",
                    wasmudf::escape_controls(&entry.display().to_string()),
                    wasmudf::escape_controls(message.trim()).replace("\\u{a}", "\n")
                ),
            ));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        built_path(&stdout).ok_or_else(|| {
            Failure::coded(
                "ERR_WASMUDF_JS_BUILD",
                format!("unexpected output from {}: {stdout:?}", script.display()),
            )
        })
    })
    .await
}

/// The `path` of the JSON line the build script prints last.
fn built_path(stdout: &str) -> Option<PathBuf> {
    let line = stdout.lines().rev().find(|l| l.starts_with('{'))?;
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value.get("path")?.as_str().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_become_paths() {
        assert_eq!(
            file_url_path("file:///a/b%20c/x.node"),
            Some(PathBuf::from("/a/b c/x.node"))
        );
        assert_eq!(file_url_path("/no/scheme"), None);
    }

    #[test]
    fn the_build_scripts_path_is_read_from_its_json_line() {
        let out =
            "noise\n{\"path\":\"/c/js/ab\\\"c.wasm\",\"sha256\":\"ab\",\"built\":true,\"ms\":3}\n";
        assert_eq!(built_path(out), Some(PathBuf::from("/c/js/ab\"c.wasm")));
        assert_eq!(built_path("nothing"), None);
    }
}
