//! The bytes a Ballista plan carries for a function
//! (`WasmCodec::try_decode_udf` / `try_decode_udaf`, logical and physical):
//! any bytes, and messages of our format with any hash, index and shipped
//! component, the component's bytes genuine, changed, or any; the hash
//! genuine (so shipped bytes reach the store's load) or not.
//!
//! Whatever the bytes, decoding answers a function or an error; a
//! function it answers is the one the message names (the component of that
//! hash, the function of that index and kind), and encodes back to a
//! message that decodes to it again.
//!
//! The body of the `codec` fuzz target, included by path by its `cargo
//! fuzz` entry point (`fuzz/fuzz_targets/codec.rs`) and by the smoke test
//! (`tests/fuzz_smoke.rs`), which runs in this workspace's test build.

use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;
use prost::Message;
use sha2::{Digest, Sha256};
use wasmudf::{Engine, Limits};
use wasmudf_ballista::{ComponentStore, WasmCodec};

/// The codec's message (`codec.rs`'s `Shipped`), written again here so the
/// fuzzer can make well-formed ones.
#[derive(Clone, PartialEq, Message)]
struct Shipped {
    #[prost(bytes = "vec", tag = "1")]
    sha256: Vec<u8>,
    #[prost(uint32, tag = "2")]
    index: u32,
    #[prost(bytes = "vec", optional, tag = "3")]
    component: Option<Vec<u8>>,
}

const MAGIC: &[u8] = b"wasmudf\x01";
const GUESTS: &[&str] = &["stats", "identity", "greatest", "text", "dup_names_case"];

/// The engine (with an on-disk cache, so loading a known guest again costs
/// a lookup, not a compile) and the guests' bytes.
fn setup() -> &'static (Engine, Vec<Vec<u8>>, tempfile::TempDir) {
    static SETUP: OnceLock<(Engine, Vec<Vec<u8>>, tempfile::TempDir)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let cache = tempfile::tempdir().expect("a temporary cache folder");
        let engine = Engine::builder()
            .limits(Limits {
                fuel: Some(2_000_000),
                max_memory_bytes: 32 << 20,
                ..Limits::default()
            })
            .cache_dir(cache.path())
            .build()
            .expect("the fuzzing engine builds");
        // CARGO_MANIFEST_DIR is the fuzz crate's or wasmudf-ballista's.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .find(|d| d.join("guests/Cargo.toml").is_file())
            .unwrap_or(std::path::Path::new("."))
            .join("guests/target/wasm32-wasip2/release");
        let guests = GUESTS
            .iter()
            .map(|g| {
                let path = dir.join(format!("{g}.wasm"));
                std::fs::read(&path).unwrap_or_else(|e| {
                    panic!(
                        "{}: {e}; build the guests first: cargo build --manifest-path \
                         guests/Cargo.toml --release --target wasm32-wasip2",
                        path.display()
                    )
                })
            })
            .collect();
        (engine, guests, cache)
    })
}

#[derive(Debug, Arbitrary)]
enum Bytes {
    None,
    Guest(u8),
    Changed(u8, Vec<(u32, u8)>),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Hash {
    /// SHA-256 of the shipped bytes.
    OfShipped,
    /// SHA-256 of a guest (found in the store when preloaded).
    OfGuest(u8),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Blob {
    Raw(Vec<u8>),
    Message { hash: Hash, index: u32, component: Bytes, trailing: Vec<u8> },
}

/// One input, as `arbitrary` makes it from the fuzzer's bytes.
#[derive(Debug, Arbitrary)]
pub struct Input {
    name: String,
    aggregate: bool,
    physical: bool,
    /// Guests the receiving store already has.
    preload: Vec<u8>,
    blob: Blob,
}

fn guest(i: u8) -> &'static [u8] {
    let guests = &setup().1;
    &guests[usize::from(i) % guests.len()]
}

fn sha(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// Runs one input; panics on a finding.
pub fn run(input: Input) {
    let (engine, _, _) = setup();
    // A fresh store per input: a store keeps what it loads.
    let store = Arc::new(ComponentStore::new(engine.clone(), 1));
    for &g in input.preload.iter().take(2) {
        // A hostile guest may be refused (two functions of one name).
        let _ = store.insert("preloaded", guest(g));
    }
    let codec = WasmCodec::new(store.clone());
    let (buf, named) = match &input.blob {
        Blob::Raw(bytes) => (bytes.clone(), None),
        Blob::Message { hash, index, component, trailing } => {
            let shipped: Option<Vec<u8>> = match component {
                Bytes::None => None,
                Bytes::Guest(g) => Some(guest(*g).to_vec()),
                Bytes::Changed(g, changes) => {
                    let mut b = guest(*g).to_vec();
                    let len = b.len();
                    for &(at, byte) in changes {
                        b[at as usize % len] = byte;
                    }
                    Some(b)
                }
                Bytes::Raw(b) => Some(b.clone()),
            };
            let sha256 = match hash {
                Hash::OfShipped => sha(shipped.as_deref().unwrap_or_default()),
                Hash::OfGuest(g) => sha(guest(*g)),
                Hash::Raw(b) => b.clone(),
            };
            let message = Shipped { sha256: sha256.clone(), index: *index, component: shipped };
            let mut buf = MAGIC.to_vec();
            message.encode(&mut buf).expect("a message encodes");
            buf.extend_from_slice(trailing);
            // Trailing bytes may change what the message says (protobuf
            // takes the last value of a field): the check below holds for
            // messages that decode as they were written.
            let reread = Shipped::decode(&buf[MAGIC.len()..]).ok();
            let named = (reread.as_ref() == Some(&message)).then_some((sha256, *index));
            (buf, named)
        }
    };
    let name = input.name.as_str();
    if input.aggregate {
        let decoded = if input.physical {
            PhysicalExtensionCodec::try_decode_udaf(&codec, name, &buf)
        } else {
            LogicalExtensionCodec::try_decode_udaf(&codec, name, &buf)
        };
        let Ok(f) = decoded else { return };
        let Some((component, index)) = wasmudf_datafusion::aggregate_origin(&f) else {
            return;
        };
        if let Some((hash, i)) = &named {
            assert_eq!(&component.sha256()[..], &hash[..], "decoded another component");
            assert_eq!(index, *i as usize, "decoded another function");
        }
        assert!(matches!(
            component.functions()[index].kind,
            wasmudf::FunctionKind::Aggregate | wasmudf::FunctionKind::Window
        ));
        let mut again = Vec::new();
        LogicalExtensionCodec::try_encode_udaf(&codec, &f, &mut again).expect("encodes back");
        let g = LogicalExtensionCodec::try_decode_udaf(&codec, f.name(), &again).expect("decodes again");
        assert_eq!(wasmudf_datafusion::aggregate_origin(&g).map(|(c, i)| (c.sha256(), i)), Some((component.sha256(), index)));
    } else {
        let decoded = if input.physical {
            PhysicalExtensionCodec::try_decode_udf(&codec, name, &buf)
        } else {
            LogicalExtensionCodec::try_decode_udf(&codec, name, &buf)
        };
        let Ok(f) = decoded else { return };
        let Some((component, index)) = wasmudf_datafusion::scalar_origin(&f) else {
            return;
        };
        if let Some((hash, i)) = &named {
            assert_eq!(&component.sha256()[..], &hash[..], "decoded another component");
            assert_eq!(index, *i as usize, "decoded another function");
        }
        assert_eq!(component.functions()[index].kind, wasmudf::FunctionKind::Scalar);
        let mut again = Vec::new();
        LogicalExtensionCodec::try_encode_udf(&codec, &f, &mut again).expect("encodes back");
        let g = LogicalExtensionCodec::try_decode_udf(&codec, f.name(), &again).expect("decodes again");
        assert_eq!(wasmudf_datafusion::scalar_origin(&g).map(|(c, i)| (c.sha256(), i)), Some((component.sha256(), index)));
    }
}
