//! `contactsync admin ...`: the app backend's side of a discovery server — its users
//! ([`users`]: one at a time, in bulk from a file, looked up, listed), the hashing keys
//! ([`keys`]: the two-step rotation, with the counts that tell whether the re-registration is
//! complete), devices ([`clients`]) and the admin token ([`token`]).
//!
//! This file holds what the family shares: the options every admin verb takes and the
//! connection they make with them ([`Admin`]). Its files use this one, never each other.

pub mod clients;
pub mod keys;
pub mod token;
pub mod users;

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use contactsync_core::upload::{Method, call};
use serde::Serialize;

use crate::failure::Failure;
use crate::remote::{admin_token, net_failure, segment, server_url, transport};
use crate::transport::{HttpTransport, ServerUrl};

/// Options of the admin verbs.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// The server's base URL.
    #[arg(long, value_name = "URL")]
    server: String,
    /// The server's admin token (else `$CONTACTSYNC_ADMIN_TOKEN`).
    #[arg(long, value_name = "TOKEN")]
    admin_token: Option<String>,
    /// Print the server's JSON answer.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Register, replace, look up or delete app users.
    User {
        #[command(subcommand)]
        action: users::UserCommand,
    },
    /// Rotate the hashing key: `rotate`, register every user again, `activate`.
    Key {
        #[command(subcommand)]
        action: keys::KeyCommand,
    },
    /// The admin token: `rotate` makes a new one and revokes the old.
    Token {
        #[command(subcommand)]
        action: token::TokenCommand,
    },
    /// Devices: revoke one (a lost or stolen phone, a user who left).
    Client {
        #[command(subcommand)]
        action: clients::ClientCommand,
    },
}

/// `contactsync admin ...`.
pub fn run(out: &mut impl Write, what: AdminCommand) -> Result<ExitCode, Failure> {
    match what {
        AdminCommand::User { action } => users::run(out, action),
        AdminCommand::Key { action } => keys::run(out, action),
        AdminCommand::Client { action } => clients::run(out, action),
        AdminCommand::Token { action } => token::run(out, action),
    }
}

/// The connection of the admin verbs.
#[derive(Debug)]
pub struct Admin {
    server: ServerUrl,
    transport: HttpTransport,
}

impl Admin {
    /// Connects with `--admin-token` or `$CONTACTSYNC_ADMIN_TOKEN`.
    pub fn connect(args: &AdminArgs) -> Result<Self, Failure> {
        let server = server_url(&args.server)?;
        let token = admin_token(args.admin_token.as_deref())?;
        let transport = transport(&server, Some(&token))?;
        Ok(Admin { server, transport })
    }

    pub fn call<A: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<A, Failure> {
        call(&self.transport, method, path, body)
            .map_err(|e| net_failure("admin request to", &self.server, &e))
    }

    /// A bodiless call on `/v1/admin/users/{user_ref}`.
    fn user<A: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        user_ref: &str,
    ) -> Result<A, Failure> {
        let path = format!("/v1/admin/users/{}", segment(user_ref));
        self.call(method, &path, None::<&()>)
    }
}
