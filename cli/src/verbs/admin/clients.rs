//! `contactsync admin client ...`: the app backend's hold on devices — revoke one (a lost or
//! stolen phone, a user who left): the server deletes it as the device's own `forget` would.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use contactsync_core::protocol::wire::DeleteReceipt;
use contactsync_core::upload::Method;

use super::{Admin, AdminArgs};
use crate::failure::Failure;
use crate::output::write_json;
use crate::remote::segment;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Delete a device on the server: its hashes, batch answers, invites and counters go (a
    /// receipt is kept), and its token stops working. Its database is untouched: it may
    /// register again.
    Revoke {
        #[command(flatten)]
        admin: AdminArgs,
        /// The client id (`c_...`, as `register` and `sync` print it).
        #[arg(value_name = "CLIENT_ID")]
        client_id: String,
    },
}

/// `contactsync admin client ...`.
pub fn run(out: &mut impl Write, action: ClientCommand) -> Result<ExitCode, Failure> {
    match action {
        ClientCommand::Revoke { admin, client_id } => {
            let connection = Admin::connect(&admin)?;
            let receipt: DeleteReceipt = connection.call(
                Method::Delete,
                &format!("/v1/admin/clients/{}", segment(&client_id)),
                None::<&()>,
            )?;
            if admin.json {
                write_json(out, &receipt)?;
            } else {
                let d = receipt.deleted;
                writeln!(
                    out,
                    "revoked client {} (receipt {}, at {}): hashes {}, batch answers {}, \
                     invites {} deleted",
                    receipt.client_id,
                    receipt.receipt_id,
                    receipt.deleted_at,
                    d.hashes,
                    d.batches,
                    d.invites
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
