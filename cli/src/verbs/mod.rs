//! The verbs, one family per module: each owns its verbs' arguments beyond the common ones, their
//! work and their output. A verb module uses the shared modules below it (main.rs's doc lists
//! them) and never another verb module nor main.rs; what two families need moves down into a
//! shared module (`tests/layers.rs` checks it).

// `admin user|key|token|client ...`: the app backend's side of a server.
pub mod admin;
// `server-backup`: a consistent copy of a server's SQLite database, and its restore.
pub mod backup;
// `business-match`: a business's list against the app's users.
pub mod business;
// `import` and `contacts`: the address book in the local database.
pub mod contacts;
// `demo`: the whole flow on this machine.
pub mod demo;
// `register`, `sync` and `forget`: the device and its server.
pub mod device;
// `exclude` and `include`: contacts and identifiers kept out of discovery.
pub mod exclude;
// `invite create|redeem|list|revoke`.
pub mod invite;
// `matches`: the contacts found on the app.
pub mod matches;
// `normalize`, `hash` and `read`: JSON lines over identifiers and files.
pub mod pipeline;
// `serve`: the reference server in the foreground.
pub mod serve;
// `status`: what the database holds and when the next sync reaches the server.
pub mod status;
