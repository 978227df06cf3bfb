//! Hostile test guest: reaches for the network every way WASI offers, which
//! makes the component import `wasi:sockets/*`.

use std::net::{TcpStream, ToSocketAddrs, UdpSocket};

/// `connect(addr TEXT) -> INTEGER`: `TcpStream::connect(addr)`; 1 on
/// success, a guest error carrying the I/O error otherwise.
#[wasmudf_guest::scalar]
pub fn connect(addr: &str) -> Result<i64, String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    drop(core::hint::black_box(stream));
    Ok(1)
}

/// `udp_send(addr TEXT) -> INTEGER`: binds a UDP socket and sends one
/// datagram to `addr`; the number of bytes sent, or a guest error.
#[wasmudf_guest::scalar]
pub fn udp_send(addr: &str) -> Result<i64, String> {
    let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("cannot bind: {e}"))?;
    let sent = socket
        .send_to(b"wasmudf", addr)
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    Ok(sent as i64)
}

/// `resolve(host TEXT) -> INTEGER`: looks `host` up (port 80); the number
/// of addresses found, or a guest error.
#[wasmudf_guest::scalar]
pub fn resolve(host: &str) -> Result<i64, String> {
    let found = (host, 80)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    Ok(found.count() as i64)
}

wasmudf_guest::export! {
    scalars: [connect, udp_send, resolve],
}
