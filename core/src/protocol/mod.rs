//! The discovery protocol's messages and body encodings (docs/protocol.md), shared by both sides:
//! the store persists batches in them, the upload stage sends and reads them, and the reference
//! server (`server/`) serialises exactly these types.
//!
//! Owns: the wire types ([`wire`], the private mode's and the padding in [`private`], the Matrix
//! identity service's lookup in [`matrix`]) and JSON/CBOR ([`encoding`]). May import only the stages below it (`error`, `hash`, `oprf`); it
//! knows nothing of the store, the transport or the engine, so every stage above can speak the
//! protocol without reaching into another.

pub mod encoding;
pub mod matrix;
pub mod private;
pub mod wire;
