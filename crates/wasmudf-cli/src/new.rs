//! `wasmudf new --lang rust|js|python NAME`: a guest project that builds
//! with one command and carries a test query.
//!
//! The templates live in `templates/<lang>/` and are compiled into the
//! binary. The guest SDKs are not published, so a project refers to them by
//! path: by default the SDKs of the checkout this binary was built from,
//! or `--sdk DIR` (a checkout's root) for another one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::output::safe;

/// A guest language `wasmudf new` can scaffold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Lang {
    /// A Rust crate on `wasmudf-guest` (`cargo build --target wasm32-wasip2`).
    Rust,
    /// A JavaScript module on the `wasmudf-guest` npm package.
    Js,
    /// A Python module on the `wasmudf_guest` package.
    Python,
}

/// One file of a template: where it goes in the project, and its text.
type TemplateFile = (&'static str, &'static str);

macro_rules! template {
    ($lang:literal: $($dest:literal => $src:literal),+ $(,)?) => {
        &[$(($dest, include_str!(concat!("../templates/", $lang, "/", $src)))),+]
    };
}

const RUST: &[TemplateFile] = template!("rust":
    "Cargo.toml" => "Cargo.toml",
    "src/lib.rs" => "src/lib.rs",
    ".cargo/config.toml" => ".cargo/config.toml",
    ".gitignore" => "gitignore",
    "README.md" => "README.md",
    "test.sql" => "test.sql",
);
const JS: &[TemplateFile] = template!("js":
    "package.json" => "package.json",
    "udf.js" => "udf.js",
    ".gitignore" => "gitignore",
    "README.md" => "README.md",
    "test.sql" => "test.sql",
);
const PYTHON: &[TemplateFile] = template!("python":
    "app.py" => "app.py",
    ".gitignore" => "gitignore",
    "README.md" => "README.md",
    "test.sql" => "test.sql",
);

/// The checkout this binary was built from: the SDKs' default home.
fn default_sdk_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the built component will be, relative to the project.
pub(crate) fn component_path(lang: Lang, name: &str) -> String {
    let ident = ident(name);
    match lang {
        Lang::Rust => format!("target/wasm32-wasip2/release/{ident}.wasm"),
        Lang::Js | Lang::Python => format!("{ident}.wasm"),
    }
}

/// `name` as a SQL and Rust identifier: `my-udf` → `my_udf`.
fn ident(name: &str) -> String {
    name.replace('-', "_")
}

/// Checks that `name` works as a crate, package, file and function name.
fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !starts_well || !rest_ok || name.len() > 64 {
        bail!(
            "`{}` is not a usable project name: use 1 to 64 ASCII letters, digits, `_` or `-`, \
             starting with a letter",
            safe(name)
        );
    }
    Ok(())
}

/// Creates the project `name` in `parent` and returns its directory.
pub(crate) fn run(lang: Lang, name: &str, parent: &Path, sdk: Option<&Path>) -> Result<PathBuf> {
    check_name(name)?;
    let root = match sdk {
        Some(dir) => dir.to_path_buf(),
        None => default_sdk_root(),
    };
    let root = std::fs::canonicalize(&root)
        .with_context(|| format!("the SDK checkout {} is missing", root.display()))?;
    let sdk_dir = |rel: &str| -> Result<String> {
        let dir = root.join(rel);
        if !dir.is_dir() {
            bail!(
                "{} has no {rel}: pass --sdk with the root of a wasmudf checkout",
                root.display()
            );
        }
        dir.to_str()
            .map(str::to_owned)
            .with_context(|| format!("{} is not UTF-8", dir.display()))
    };
    let (files, sdk_key, sdk_path) = match lang {
        Lang::Rust => (RUST, "{{rust_sdk}}", sdk_dir("crates/wasmudf-guest")?),
        Lang::Js => (JS, "{{js_sdk}}", sdk_dir("guests/js")?),
        Lang::Python => (PYTHON, "{{python_sdk}}", sdk_dir("guests/python")?),
    };
    let dir = parent.join(name);
    // A cap-std handle on the parent, so the project is made exactly there.
    let parent_dir = cap_std::fs::Dir::open_ambient_dir(parent, cap_std::ambient_authority())
        .with_context(|| format!("opening {}", parent.display()))?;
    parent_dir
        .create_dir(name)
        .with_context(|| format!("creating {}", dir.display()))?;
    let project = parent_dir.open_dir(name)?;
    let ident = ident(name);
    for (dest, text) in files {
        let text = text
            .replace("{{name}}", name)
            .replace("{{ident}}", &ident)
            .replace(sdk_key, &sdk_path);
        if let Some(sub) = Path::new(dest)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            project.create_dir_all(sub)?;
        }
        project
            .write(dest, text)
            .with_context(|| format!("writing {}", dir.join(dest).display()))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_identifiers() {
        for good in ["a", "my-udf", "x_1"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1x", "-x", "a b", "a/b", "..", "é", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let parent = tempfile::tempdir().expect("tempdir");
        for (i, lang) in [Lang::Rust, Lang::Js, Lang::Python].into_iter().enumerate() {
            let name = format!("p{i}-x");
            let dir = run(lang, &name, parent.path(), None).expect("scaffolds");
            for entry in walk(&dir) {
                let text = std::fs::read_to_string(&entry).expect("text file");
                assert!(
                    !text.contains("{{"),
                    "{} keeps a placeholder",
                    entry.display()
                );
            }
            assert!(run(lang, &name, parent.path(), None).is_err(), "overwrote");
        }
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}
