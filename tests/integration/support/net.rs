//! A TCP tripwire: a listener nobody is supposed to connect to.
//!
//! The kernel completes the TCP handshake of a connecting client into the
//! listen backlog even if we never call `accept`, so after the run a
//! non-blocking `accept` tells whether anyone tried to connect.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};

use serde_json::Value;

use super::builder::unreachable_vars;

/// A listener on 127.0.0.1 that records connection attempts.
pub struct Tripwire {
    listener: TcpListener,
}

impl Tripwire {
    /// Binds an ephemeral port on 127.0.0.1.
    pub fn new() -> Tripwire {
        let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).expect("bind the tripwire");
        listener.set_nonblocking(true).expect("make the tripwire non-blocking");
        Tripwire { listener }
    }

    /// The port to point a host at.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().expect("tripwire address").port()
    }

    /// Inventory connection variables for a host at this tripwire.
    pub fn host_vars(&self) -> Vec<(String, Value)> {
        unreachable_vars(self.port())
    }

    /// Whether anything connected since the tripwire was set.
    pub fn was_touched(&self) -> bool {
        match self.listener.accept() {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) => panic!("tripwire accept failed: {e}"),
        }
    }
}
