//! Compiles the `guests/` workspace to `wasm32-wasip2` components as part of
//! the host build, and generates one path constant per guest plus a
//! `foreach_guest!` macro over all of them. The JavaScript and Python
//! example guests are built too, with the toolchains that
//! `guests/setup-toolchains.sh` installs into the checkout.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// The guests the CLI loads when it is given no `--udf`.
const EXAMPLES: &[&str] = &[
    "sleep",
    "identity",
    "text",
    "sha256",
    "greatest",
    "stats",
    "regex-matches",
    "split",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("crates/wasmudf-test-guests sits two levels below the workspace root")
        .to_path_buf();
    let guests_dir = root.join("guests");
    let crates = guest_crates(&guests_dir);
    watch(&root, &guests_dir, &crates);
    require_target();
    build(&guests_dir);
    let lang = build_lang_guests(&guests_dir);

    let release = guests_dir.join("target").join(TARGET).join("release");
    let mut out = String::new();
    let mut all = String::new();
    let mut foreach = String::new();
    for (name, _) in &crates {
        let file = release.join(format!("{}.wasm", name.replace('-', "_")));
        assert!(
            file.exists(),
            "guest `{name}` built but {} is missing",
            file.display()
        );
        let konst = name.replace('-', "_").to_uppercase();
        writeln!(
            out,
            "/// Path of the compiled `{name}` guest component.\npub const {konst}: &str = {:?};",
            file.display().to_string()
        )
        .expect("write to String");
        writeln!(all, "    ({name:?}, {konst}),").expect("write to String");
        writeln!(
            foreach,
            "        $mac!({}, $crate::{konst});",
            name.replace('-', "_")
        )
        .expect("write to String");
    }
    let mut examples = String::new();
    for name in EXAMPLES {
        assert!(
            crates.iter().any(|(n, _)| n == name),
            "example guest `{name}` is missing from guests/"
        );
        let file = release.join(format!("{}.wasm", name.replace('-', "_")));
        writeln!(
            examples,
            "    ({name:?}, include_bytes!({:?})),",
            file.display().to_string()
        )
        .expect("write to String");
    }
    write!(
        out,
        "/// Every guest as `(crate name, path)`, in name order.\n\
         pub const ALL: &[(&str, &str)] = &[\n{all}];\n\
         /// The example guests, embedded, as `(name, component bytes)`.\n\
         pub const EXAMPLES: &[(&str, &[u8])] = &[\n{examples}];\n\
         /// Calls `$mac!(crate_name, PATH)` once for every guest, so a test\n\
         /// module can make \"every guest has a test\" a compile-time fact.\n\
         #[macro_export]\n\
         macro_rules! foreach_guest {{\n    ($mac:ident) => {{\n{foreach}    }};\n}}\n"
    )
    .expect("write to String");
    for (konst, file) in lang {
        writeln!(
            out,
            "/// Path of the compiled `{}` guest component (built from another language).\n\
             pub const {konst}: &str = {:?};",
            konst.to_lowercase(),
            file.display().to_string()
        )
        .expect("write to String");
    }
    let dest = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("guests.rs");
    fs::write(&dest, out).expect("write generated guests.rs");
}

/// `(crate name, directory)` for every crate in the guests workspace:
/// `guests/<name>/` and `guests/hostile/<name>/`.
fn guest_crates(guests_dir: &Path) -> Vec<(String, PathBuf)> {
    let mut crates = Vec::new();
    for parent in [guests_dir.to_path_buf(), guests_dir.join("hostile")] {
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            if dir.join("Cargo.toml").exists() {
                let name = entry.file_name().to_string_lossy().into_owned();
                crates.push((name, dir));
            }
        }
    }
    crates.sort();
    crates
}

/// Re-run when any guest source, the SDK or the WIT changes. Directories
/// are listed one crate at a time so that `guests/target` is not watched.
fn watch(root: &Path, guests_dir: &Path, crates: &[(String, PathBuf)]) {
    let mut paths = vec![
        guests_dir.join("Cargo.toml"),
        guests_dir.join("Cargo.lock"),
        guests_dir.join(".cargo/config.toml"),
        root.join("wit"),
        root.join("crates/wasmudf-guest"),
        root.join("crates/wasmudf-guest-macros"),
        // Sources that several guest crates `include!`.
        guests_dir.join("swap"),
        guests_dir.join("hostile/common"),
    ];
    for (_, dir) in crates {
        paths.push(dir.join("Cargo.toml"));
        paths.push(dir.join("src"));
        if dir.join("wit").exists() {
            paths.push(dir.join("wit"));
        }
    }
    for path in paths {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// Fails the build with the command that fixes it when the target is
/// missing, instead of a page of "can't find crate for `core`".
fn require_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if !libdir.is_some_and(|dir| dir.exists()) {
        panic!(
            "\n\nThe Rust target `{TARGET}` is not installed, so the test guests cannot be \
             built.\nFix it with:\n\n    rustup target add {TARGET}\n\n"
        );
    }
}

fn build(guests_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(guests_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(guests_dir.join("target"))
        // So that cargo reads `guests/.cargo/config.toml`.
        .current_dir(guests_dir);
    // The outer build's flags are for the host target, not for wasm.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd.output().expect("failed to run cargo for the guests");
    if !output.status.success() {
        panic!(
            "building the guests failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A guest written in another language: its constant, the SDK that builds
/// it, its source, and the files whose change means a rebuild.
struct LangGuest {
    konst: &'static str,
    sdk: &'static str,
    source: &'static str,
    output: &'static str,
}

const LANG_GUESTS: &[LangGuest] = &[
    LangGuest {
        konst: "JS_EXAMPLES",
        sdk: "js",
        source: "js/examples/examples.js",
        output: "target/js/js_examples.wasm",
    },
    LangGuest {
        konst: "PY_EXAMPLES",
        sdk: "python",
        source: "python/examples/py_examples.py",
        output: "target/python/py_examples.wasm",
    },
];

/// Builds the JavaScript and Python guests whose component is missing or
/// older than its source or SDK; returns `(constant, path)` for each.
fn build_lang_guests(guests_dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let setup = "guests/setup-toolchains.sh";
    let mut built = Vec::new();
    for guest in LANG_GUESTS {
        let sdk = guests_dir.join(guest.sdk);
        let source = guests_dir.join(guest.source);
        let output = guests_dir.join(guest.output);
        // The SDK's own files, without its installed toolchain.
        let inputs: Vec<PathBuf> = match guest.sdk {
            "js" => [
                "src",
                "bin",
                "wit",
                "examples",
                "package.json",
                "package-lock.json",
            ]
            .iter()
            .map(|p| sdk.join(p))
            .collect(),
            _ => ["wasmudf_guest", "examples", "pyproject.toml"]
                .iter()
                .map(|p| sdk.join(p))
                .collect(),
        };
        for input in &inputs {
            println!("cargo:rerun-if-changed={}", input.display());
        }
        let fresh =
            newest(&output).is_some_and(|out| inputs.iter().all(|i| newest(i) <= Some(out)));
        if !fresh {
            let mut cmd = match guest.sdk {
                "js" => {
                    let installed = sdk.join("node_modules/@bytecodealliance/componentize-js");
                    if !installed.exists() {
                        panic!(
                            "\n\nThe JavaScript guest toolchain (componentize-js) is not installed.\n\
                             Fix it with:\n\n    {setup}\n\n(it runs `npm ci --prefix guests/js`)\n"
                        );
                    }
                    let mut cmd = Command::new("node");
                    cmd.arg(sdk.join("bin/wasmudf-guest.js")).arg("build");
                    cmd
                }
                _ => {
                    let python = sdk.join(".venv/bin/python");
                    if !python.exists() {
                        panic!(
                            "\n\nThe Python guest toolchain (componentize-py) is not installed.\n\
                             Fix it with:\n\n    {setup}\n\n(it runs `python3 -m venv guests/python/.venv` \
                             and `pip install -e guests/python` there)\n"
                        );
                    }
                    let mut cmd = Command::new(python);
                    cmd.args(["-m", "wasmudf_guest", "build"]);
                    cmd
                }
            };
            if let Some(dir) = output.parent() {
                fs::create_dir_all(dir).expect("create the guest output directory");
            }
            cmd.arg(&source).arg("-o").arg(&output).current_dir(&sdk);
            let result = cmd
                .output()
                .unwrap_or_else(|e| panic!("running the {} SDK's build: {e}", guest.sdk));
            if !result.status.success() {
                panic!(
                    "building {} failed:\n{}\n{}",
                    guest.source,
                    String::from_utf8_lossy(&result.stdout),
                    String::from_utf8_lossy(&result.stderr)
                );
            }
        }
        built.push((guest.konst, output));
    }
    built
}

/// The newest modification time of `path`, or of any file below it.
fn newest(path: &Path) -> Option<std::time::SystemTime> {
    let meta = fs::metadata(path).ok()?;
    let own = meta.modified().ok();
    if !meta.is_dir() {
        return own;
    }
    fs::read_dir(path)
        .ok()?
        .flatten()
        .filter(|e| e.file_name() != "node_modules" && e.file_name() != "__pycache__")
        .filter_map(|e| newest(&e.path()))
        .chain(own)
        .max()
}
