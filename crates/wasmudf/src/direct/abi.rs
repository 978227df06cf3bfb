//! The canonical ABI of the few `wasmudf:udf/guest` exports the direct path
//! calls, written out by hand for their fixed types.
//!
//! wasmtime does this work generically on every component call; here the
//! types never change, so lowering is a handful of integer moves and lifting
//! reads a few bytes at known offsets. Every read is bounds-checked and every
//! discriminant range-checked: a guest that breaks the ABI gets
//! [`AbiViolation`], and the call is retried on the component path, whose
//! own checks then report it.

/// A guest broke the canonical ABI: a result pointer out of bounds or
/// misaligned, an unknown discriminant, TEXT that is not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AbiViolation(pub(crate) &'static str);

impl std::fmt::Display for AbiViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "canonical ABI violation: {}", self.0)
    }
}

impl std::error::Error for AbiViolation {}

/// Discriminants shared by `value`, `number` and `fast-result`: their first
/// three cases are the same (`null`, `integer`, `real`).
pub(crate) const NULL: i32 = 0;
pub(crate) const INTEGER: i32 = 1;
pub(crate) const REAL: i32 = 2;
/// `value.text` and `value.blob`.
pub(crate) const TEXT: i32 = 3;
pub(crate) const BLOB: i32 = 4;
/// `fast-result.deferred`.
const DEFERRED: u8 = 3;

/// One flattened `value` (or `number`, which uses the first two slots): the
/// discriminant, the payload joined to `i64` (an `f64` by its bits, a string
/// pointer zero-extended), and the string or list length.
pub(crate) type FlatValue = (i32, i64, i32);

/// A flattened `null`, `integer` or `real`.
#[inline]
pub(crate) fn flat_number(value: rusqlite::types::ValueRef<'_>) -> Option<FlatValue> {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Some((NULL, 0, 0)),
        ValueRef::Integer(i) => Some((INTEGER, i, 0)),
        ValueRef::Real(r) => Some((REAL, r.to_bits() as i64, 0)),
        ValueRef::Text(_) | ValueRef::Blob(_) => None,
    }
}

/// A flattened `text` or `blob` already copied to `ptr` in guest memory.
#[inline]
pub(crate) fn flat_bytes(discriminant: i32, ptr: u32, len: u32) -> FlatValue {
    (discriminant, i64::from(ptr), len as i32)
}

/// `len` bytes at `ptr`, or a violation if they are not all in `memory`.
fn bytes_at(memory: &[u8], ptr: u32, len: u32) -> Result<&[u8], AbiViolation> {
    let start = ptr as usize;
    start
        .checked_add(len as usize)
        .and_then(|end| memory.get(start..end))
        .ok_or(AbiViolation("pointer out of bounds"))
}

fn read<const N: usize>(memory: &[u8], at: usize) -> Result<[u8; N], AbiViolation> {
    memory
        .get(at..at.wrapping_add(N))
        .and_then(|b| b.try_into().ok())
        .ok_or(AbiViolation("pointer out of bounds"))
}

fn read_u32(memory: &[u8], at: usize) -> Result<u32, AbiViolation> {
    read::<4>(memory, at).map(u32::from_le_bytes)
}

fn read_i64(memory: &[u8], at: usize) -> Result<i64, AbiViolation> {
    read::<8>(memory, at).map(i64::from_le_bytes)
}

/// The start of an 8-aligned return area, checked.
fn return_area(memory: &[u8], ptr: i32, size: usize) -> Result<usize, AbiViolation> {
    return_area_aligned(memory, ptr, size, 8)
}

/// The start of a return area aligned to `align`, checked.
fn return_area_aligned(
    memory: &[u8],
    ptr: i32,
    size: usize,
    align: usize,
) -> Result<usize, AbiViolation> {
    let at = ptr as u32 as usize;
    if !at.is_multiple_of(align) {
        return Err(AbiViolation("misaligned return pointer"));
    }
    bytes_at(memory, at as u32, size as u32)?;
    Ok(at)
}

/// A result value lifted in place: TEXT and BLOB still borrow guest
/// memory, so they can be handed to SQLite before the post-return function
/// frees them, with no host copy in between.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Borrowed<'m> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'m str),
    Blob(&'m [u8]),
}

/// The guest's answer to a call, in place: a value, or the guest's own
/// error message.
pub(crate) type Answer<'m> = Result<Borrowed<'m>, &'m str>;

/// Lifts a `fast-result` from its return area: `None` means `deferred`.
///
/// Layout: discriminant byte at 0, 8-byte payload at 8.
#[inline]
pub(crate) fn lift_fast(
    memory: &[u8],
    ptr: i32,
) -> Result<Option<Borrowed<'static>>, AbiViolation> {
    let at = return_area(memory, ptr, 16)?;
    let payload = read_i64(memory, at + 8)?;
    Ok(Some(match memory[at] {
        0 => Borrowed::Null,
        1 => Borrowed::Integer(payload),
        2 => Borrowed::Real(f64::from_bits(payload as u64)),
        DEFERRED => return Ok(None),
        _ => return Err(AbiViolation("bad fast-result discriminant")),
    }))
}

/// Lifts a `result<value, error>` from its return area, checking that TEXT
/// and the error message are UTF-8 (as the canonical ABI requires) but
/// copying nothing.
///
/// Layout (size 24, align 8): result discriminant at 0; `ok` holds a
/// `value` at 8 (its discriminant at 8, payload at 16: an `s64`/`f64`, or a
/// pointer and length at 16 and 20); `err` holds a string at 8 (pointer at
/// 8, length at 12).
pub(crate) fn lift_value_result(memory: &[u8], ptr: i32) -> Result<Answer<'_>, AbiViolation> {
    let at = return_area(memory, ptr, 24)?;
    let bytes = |at: usize| -> Result<&[u8], AbiViolation> {
        bytes_at(memory, read_u32(memory, at)?, read_u32(memory, at + 4)?)
    };
    let string = |at: usize| -> Result<&str, AbiViolation> {
        std::str::from_utf8(bytes(at)?).map_err(|_| AbiViolation("string is not UTF-8"))
    };
    match memory[at] {
        0 => {}
        1 => return Ok(Err(string(at + 8)?)),
        _ => return Err(AbiViolation("bad result discriminant")),
    }
    let payload = at + 16;
    Ok(Ok(match i32::from(memory[at + 8]) {
        NULL => Borrowed::Null,
        INTEGER => Borrowed::Integer(read_i64(memory, payload)?),
        REAL => Borrowed::Real(f64::from_bits(read_i64(memory, payload)? as u64)),
        TEXT => Borrowed::Text(string(payload)?),
        BLOB => Borrowed::Blob(bytes(payload)?),
        _ => return Err(AbiViolation("bad value discriminant")),
    }))
}

/// A string at `at` (pointer, then length), checked for UTF-8.
fn string_at(memory: &[u8], at: usize) -> Result<&str, AbiViolation> {
    let bytes = bytes_at(memory, read_u32(memory, at)?, read_u32(memory, at + 4)?)?;
    std::str::from_utf8(bytes).map_err(|_| AbiViolation("string is not UTF-8"))
}

/// Lifts a `result<_, error>` from its return area.
///
/// Layout (size 12, align 4): discriminant at 0; `err`'s string pointer
/// and length at 4 and 8.
pub(crate) fn lift_unit_result(memory: &[u8], ptr: i32) -> Result<Result<(), &str>, AbiViolation> {
    let at = return_area_aligned(memory, ptr, 12, 4)?;
    match memory[at] {
        0 => Ok(Ok(())),
        1 => Ok(Err(string_at(memory, at + 4)?)),
        _ => Err(AbiViolation("bad result discriminant")),
    }
}

/// Lifts a `result<own<accumulator>, error>` from its return area: the
/// handle, not yet taken out of the guest's table.
///
/// Layout (size 12, align 4): discriminant at 0; the handle at 4, or the
/// error's string pointer and length at 4 and 8.
pub(crate) fn lift_handle_result(
    memory: &[u8],
    ptr: i32,
) -> Result<Result<u32, &str>, AbiViolation> {
    let at = return_area_aligned(memory, ptr, 12, 4)?;
    match memory[at] {
        0 => Ok(Ok(read_u32(memory, at + 4)?)),
        1 => Ok(Err(string_at(memory, at + 4)?)),
        _ => Err(AbiViolation("bad result discriminant")),
    }
}

/// The size of one `value` in a list: discriminant at 0, payload at 8.
pub(crate) const VALUE_SIZE: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    fn area(bytes: &[(usize, &[u8])]) -> Vec<u8> {
        let mut memory = vec![0u8; 64];
        for (at, b) in bytes {
            memory[*at..*at + b.len()].copy_from_slice(b);
        }
        memory
    }

    #[test]
    fn fast_results_lift_by_discriminant() {
        let memory = area(&[(8, &[1]), (16, &(-7i64).to_le_bytes())]);
        assert_eq!(lift_fast(&memory, 8), Ok(Some(Borrowed::Integer(-7))));
        let memory = area(&[(8, &[2]), (16, &1.5f64.to_bits().to_le_bytes())]);
        assert_eq!(lift_fast(&memory, 8), Ok(Some(Borrowed::Real(1.5))));
        assert_eq!(lift_fast(&area(&[(8, &[3])]), 8), Ok(None));
        assert_eq!(lift_fast(&area(&[(8, &[0])]), 8), Ok(Some(Borrowed::Null)));
    }

    #[test]
    fn unit_and_handle_results_lift_at_align_four() {
        let memory = area(&[(4, &[0]), (8, &7u32.to_le_bytes())]);
        assert_eq!(lift_handle_result(&memory, 4), Ok(Ok(7)));
        assert_eq!(lift_unit_result(&memory, 4), Ok(Ok(())));
        let memory = area(&[
            (4, &[1]),
            (8, &40u32.to_le_bytes()),
            (12, &2u32.to_le_bytes()),
            (40, b"no"),
        ]);
        assert_eq!(lift_handle_result(&memory, 4), Ok(Err("no")));
        assert_eq!(lift_unit_result(&memory, 4), Ok(Err("no")));
        assert!(lift_unit_result(&memory, 2).is_err(), "misaligned");
        assert!(
            lift_unit_result(&area(&[(4, &[2])]), 4).is_err(),
            "bad discriminant"
        );
        assert!(
            lift_handle_result(&memory, 56).is_err(),
            "runs past the end"
        );
    }

    #[test]
    fn malformed_return_areas_are_violations() {
        let memory = area(&[(8, &[9])]);
        assert!(lift_fast(&memory, 8).is_err(), "bad discriminant");
        assert!(lift_fast(&memory, 4).is_err(), "misaligned");
        assert!(lift_fast(&memory, 56).is_err(), "runs past the end");
        assert!(lift_fast(&memory, -8).is_err(), "huge pointer");
        assert!(lift_value_result(&memory, 48).is_err(), "runs past the end");
    }

    #[test]
    fn value_results_lift_text_and_blobs_in_place() {
        // ok(text) pointing at "hé" stored at 40.
        let text = "hé".as_bytes();
        let memory = area(&[
            (0, &[0]),
            (8, &[3]),
            (16, &40u32.to_le_bytes()),
            (20, &(text.len() as u32).to_le_bytes()),
            (40, text),
        ]);
        assert_eq!(lift_value_result(&memory, 0), Ok(Ok(Borrowed::Text("hé"))));
        // err("no") stored at 40.
        let memory = area(&[
            (0, &[1]),
            (8, &40u32.to_le_bytes()),
            (12, &2u32.to_le_bytes()),
            (40, b"no"),
        ]);
        assert_eq!(lift_value_result(&memory, 0), Ok(Err("no")));
        // A blob whose length runs past the end of memory.
        let memory = area(&[
            (0, &[0]),
            (8, &[4]),
            (16, &40u32.to_le_bytes()),
            (20, &100u32.to_le_bytes()),
        ]);
        assert!(lift_value_result(&memory, 0).is_err());
        // TEXT that is not UTF-8.
        let memory = area(&[
            (0, &[0]),
            (8, &[3]),
            (16, &40u32.to_le_bytes()),
            (20, &1u32.to_le_bytes()),
            (40, &[0xff]),
        ]);
        assert!(lift_value_result(&memory, 0).is_err());
    }
}
