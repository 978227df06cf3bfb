//! Hostile test guest: `connect(addr)` opens a TCP connection, which makes
//! the component import `wasi:sockets/*`.

/// `connect(addr TEXT) -> INTEGER`: `std::net::TcpStream::connect(addr)`;
/// 1 on success, a guest error carrying the I/O error otherwise.
#[wasmudf_guest::scalar]
pub fn connect(addr: &str) -> Result<i64, String> {
    let stream =
        std::net::TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    drop(core::hint::black_box(stream));
    Ok(1)
}

wasmudf_guest::export! {
    scalars: [connect],
}
