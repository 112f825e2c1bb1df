//! The device's credential for its server: a small JSON file beside the database,
//! `<db>.client.json` (mode 0600 on unix), holding the server URL, the client id, the bearer
//! token and the user reference the app's backend vouched for, if any.
//!
//! One database is one device's address book, so it has at most one credential: its sync state
//! (what the server acknowledged, the changes cursor) belongs to that server and client.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::failure::{Failure, UsageError};

/// What the file holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The server's base URL, as [`crate::transport::ServerUrl`] writes it.
    pub server: String,
    /// The server's id of this client.
    pub client_id: String,
    /// The bearer token.
    pub token: String,
    /// The user the app's backend vouched for (needed for invites).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ref: Option<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Credential")
            .field("server", &self.server)
            .field("client_id", &self.client_id)
            .field("user_ref", &self.user_ref)
            .finish_non_exhaustive()
    }
}

/// The credential file of a database: `<db>.client.json`.
pub fn path_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".client.json");
    PathBuf::from(name)
}

/// The stored credential, if any.
pub fn load(db: &Path) -> Result<Option<Credential>, Failure> {
    let path = path_for(db);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(UsageError(format!("{}: {e}", path.display())).into()),
    };
    serde_json::from_slice(&text).map(Some).map_err(|e| {
        UsageError(format!(
            "{}: not a contactsync credential file ({e}); move it away to register again",
            path.display()
        ))
        .into()
    })
}

/// Writes the credential atomically (a temporary file in the same directory, renamed), readable
/// by the owner only.
pub fn save(db: &Path, credential: &Credential) -> Result<PathBuf, Failure> {
    let path = path_for(db);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let fail = |e: &dyn std::fmt::Display| -> Failure {
        UsageError(format!("writing {}: {e}", path.display())).into()
    };
    // `tempfile` creates the file with mode 0600 on unix.
    let mut file = tempfile::Builder::new()
        .prefix(".contactsync-client")
        .tempfile_in(&dir)
        .map_err(|e| fail(&e))?;
    serde_json::to_writer_pretty(&mut file, credential).map_err(|e| fail(&e))?;
    file.write_all(b"\n").map_err(|e| fail(&e))?;
    file.as_file().sync_all().map_err(|e| fail(&e))?;
    file.persist(&path).map_err(|e| fail(&e.error))?;
    Ok(path)
}

/// Deletes the credential file (a missing one is fine).
pub fn remove(db: &Path) -> Result<(), Failure> {
    let path = path_for(db);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(UsageError(format!("removing {}: {e}", path.display())).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("book.db");
        assert!(load(&db).unwrap().is_none());
        let c = Credential {
            server: "http://127.0.0.1:1".into(),
            client_id: "c_1".into(),
            token: "t_secret".into(),
            user_ref: Some("u_1".into()),
        };
        let path = save(&db, &c).unwrap();
        assert_eq!(path, dir.path().join("book.db.client.json"));
        assert_eq!(load(&db).unwrap(), Some(c.clone()));
        assert!(!format!("{c:?}").contains("t_secret"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        remove(&db).unwrap();
        remove(&db).unwrap();
        assert!(load(&db).unwrap().is_none());
    }
}
