//! Guest stdout and stderr: kept in memory, bounded, never an error.
//!
//! A guest that floods its output must neither reach the host's terminal
//! nor fail because of it; the host keeps the last [`CAPTURE_BYTES`] bytes
//! (enough for a panic message) and counts the rest.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{OutputStream, StreamResult};

/// Bytes of each stream kept per instance.
pub(crate) const CAPTURE_BYTES: usize = 64 << 10;

/// A bounded tail of what a guest wrote to one stream.
#[derive(Clone, Default)]
pub(crate) struct Captured {
    inner: Arc<Mutex<Tail>>,
}

#[derive(Default)]
struct Tail {
    kept: Vec<u8>,
    dropped: u64,
}

impl Captured {
    fn append(&self, bytes: &[u8]) {
        let mut tail = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        tail.kept.extend_from_slice(bytes);
        // Trim in bulk, not per write, so a flood costs amortised O(1).
        if tail.kept.len() > 2 * CAPTURE_BYTES {
            let excess = tail.kept.len() - CAPTURE_BYTES;
            tail.kept.drain(..excess);
            tail.dropped += excess as u64;
        }
    }

    /// The kept tail, at most [`CAPTURE_BYTES`] bytes.
    pub(crate) fn contents(&self) -> Vec<u8> {
        let tail = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let start = tail.kept.len().saturating_sub(CAPTURE_BYTES);
        tail.kept[start..].to_vec()
    }
}

impl IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Captured {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Captured {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Captured {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(CAPTURE_BYTES)
    }
}

impl tokio::io::AsyncWrite for Captured {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_tail() {
        let c = Captured::default();
        for i in 0..10_000u32 {
            c.append(format!("line {i}\n").as_bytes());
        }
        let kept = c.contents();
        assert!(kept.len() <= CAPTURE_BYTES);
        assert!(String::from_utf8_lossy(&kept).ends_with("line 9999\n"));
    }
}
