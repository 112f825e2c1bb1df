//! contactsync-server: the reference discovery server (the protocol's other side).
//!
//! Placeholder: the protocol issue implements docs/protocol.md here with axum and tokio,
//! storage behind one trait with `SQLite` as the embedded default.

/// The protocol version this server will speak, as it appears in paths (`/v1/...`).
pub const PROTOCOL_VERSION: &str = "v1";
