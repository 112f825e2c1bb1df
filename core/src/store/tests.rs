//! Store tests: opening, pragmas, migrations from every frozen past schema.

use std::path::Path;

use rusqlite::Connection;

use super::*;

/// Every released schema, frozen: `FROZEN[n]` is the schema of version `n + 1`.
const FROZEN: &[&str] = &[
    include_str!("frozen/v1.sql"),
    include_str!("frozen/v2.sql"),
    include_str!("frozen/v3.sql"),
    include_str!("frozen/v4.sql"),
    include_str!("frozen/v5.sql"),
    include_str!("frozen/v6.sql"),
    include_str!("frozen/v7.sql"),
    include_str!("frozen/v8.sql"),
];

/// The schema as SQLite reports it, comparable across databases.
fn schema_of(conn: &Connection) -> Vec<(String, String, String)> {
    let mut stmt = conn
        .prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn fresh(dir: &Path) -> Vec<(String, String, String)> {
    let path = dir.join("fresh.db");
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let conn = store.writer();
    schema_of(&conn)
}

#[test]
fn every_migration_is_frozen() {
    assert_eq!(
        FROZEN.len(),
        MIGRATIONS_LEN,
        "add store/frozen/vN.sql for each new migration"
    );
}

const MIGRATIONS_LEN: usize = schema::MIGRATIONS.len();

#[test]
fn upgrading_each_past_schema_gives_the_fresh_schema() {
    let dir = tempfile::tempdir().unwrap();
    let expected = fresh(dir.path());
    // Version 0 is an empty file; then every frozen version.
    for version in 0..=FROZEN.len() {
        let path = dir.path().join(format!("v{version}.db"));
        {
            let conn = Connection::open(&path).unwrap();
            if version > 0 {
                conn.execute_batch(FROZEN[version - 1]).unwrap();
                conn.pragma_update(None, "user_version", i64::try_from(version).unwrap())
                    .unwrap();
            }
        }
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        let conn = store.writer();
        assert_eq!(schema_of(&conn), expected, "upgrade from version {version}");
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }
}

#[test]
fn a_newer_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x INTEGER)")
            .unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path, StoreOptions::default()).unwrap_err();
    assert_eq!(
        err,
        Error::NewerSchema {
            found: SCHEMA_VERSION + 1,
            supported: SCHEMA_VERSION
        }
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "not even the journal mode changed"
    );
}

#[test]
fn pragmas_are_set_on_writer_and_readers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db"), StoreOptions::default()).unwrap();
    let check = |conn: &Connection| {
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        let fk: bool = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        let timeout: i64 = conn
            .pragma_query_value(None, "busy_timeout", |r| r.get(0))
            .unwrap();
        let page: i64 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap();
        assert_eq!(page, PAGE_SIZE);
        assert_eq!(mode, "wal");
        assert!(fk);
        assert_eq!(timeout, 5000);
    };
    check(&store.writer());
    store
        .read(|conn| {
            check(conn);
            // Readers cannot write, even by mistake.
            assert!(conn.execute("DELETE FROM contacts", []).is_err());
            Ok(())
        })
        .unwrap();
}

#[test]
fn concurrent_first_opens_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    // Several rounds: the race is between the switch to WAL, the migration and first reads.
    for round in 0..10 {
        let path = dir.path().join(format!("race-{round}.db"));
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| Store::open(&path, StoreOptions::default()).map(|_| ())))
                .collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
        });
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        let rows: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM sync_state", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(rows, 1);
    }
}

#[test]
fn a_failed_write_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), StoreOptions::default()).unwrap();
    let result: Result<()> = store.write(|tx| {
        tx.execute("UPDATE sync_state SET generation = 99", [])?;
        Err(Error::Cancelled)
    });
    assert_eq!(result, Err(Error::Cancelled));
    let generation: i64 = store
        .read(|c| Ok(c.query_row("SELECT generation FROM sync_state", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(generation, 0);
}

#[test]
fn upload_state_transitions() {
    use UploadState::*;
    for state in [
        Idle,
        PendingAdd,
        AddInFlight,
        Acknowledged,
        PendingRemove,
        RemoveInFlight,
    ] {
        assert_eq!(UploadState::from_code(state.code()), Some(state));
    }
    assert_eq!(Idle.towards(true), PendingAdd);
    assert_eq!(PendingAdd.towards(false), Idle);
    assert_eq!(Acknowledged.towards(false), PendingRemove);
    assert_eq!(PendingRemove.towards(true), Acknowledged);
    // In-flight states wait for the server's answer.
    assert_eq!(AddInFlight.towards(false), AddInFlight);
    assert_eq!(RemoveInFlight.towards(true), RemoveInFlight);
    for kind in IdentifierKind::ALL {
        assert_eq!(kind_from_code(kind_code(kind)), Some(kind));
    }
}

/// Migration 3 cuts stored digests to 16 bytes: each is then exactly the digest made today of
/// the same identifier under the same key (the HMAC's prefix), so nothing is hashed again.
#[test]
fn version_2_digests_are_truncated_and_still_match() {
    use hmac::{Hmac, Mac};

    let secret = [3u8; 32];
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
    mac.update(b"contactsync-v1\0phone\0+4915123456789");
    let full = mac.finalize().into_bytes().to_vec();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(FROZEN[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO identifiers (kind, canonical, holders, included, key_id, digest, state)
             VALUES (?1, '+4915123456789', 1, 1, 'k1', ?2, 1)",
            rusqlite::params![kind_code(IdentifierKind::Phone), full],
        )
        .unwrap();
    }
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let conn = store.writer();
    let stored: Vec<u8> = conn
        .query_row("SELECT digest FROM identifiers", [], |r| r.get(0))
        .unwrap();
    let today = crate::HashKey::new("k1", &secret)
        .unwrap()
        .hash_parts(IdentifierKind::Phone, "+4915123456789");
    assert_eq!(stored, today.0);
    assert_eq!(stored, full[..16]);
}

#[cfg(unix)]
#[test]
fn a_new_database_and_its_wal_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("book.db");
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    store
        .write(|tx| Ok(tx.execute("UPDATE sync_state SET cursor = 'c'", [])?))
        .unwrap();
    // While the store is open, the WAL and its index exist beside the file.
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("book.db{suffix}"));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    drop(store);
    // A file that exists keeps the mode its owner gave it.
    let shared = dir.path().join("shared.db");
    std::fs::write(&shared, b"").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    drop(Store::open(&shared, StoreOptions::default()).unwrap());
    let mode = std::fs::metadata(&shared).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
}

/// The SQL literals of `state!` are the codes the store writes and reads.
#[test]
fn sql_state_literals_are_the_codes() {
    use super::UploadState;
    for (literal, upload_state) in [
        (state!(Idle), UploadState::Idle),
        (state!(PendingAdd), UploadState::PendingAdd),
        (state!(AddInFlight), UploadState::AddInFlight),
        (state!(Acknowledged), UploadState::Acknowledged),
        (state!(PendingRemove), UploadState::PendingRemove),
        (state!(RemoveInFlight), UploadState::RemoveInFlight),
    ] {
        assert_eq!(literal.parse::<i64>().unwrap(), upload_state.code());
        assert_eq!(
            UploadState::from_code(upload_state.code()),
            Some(upload_state)
        );
    }
}

#[test]
fn a_version_5_filter_becomes_shard_0_of_an_unsharded_filter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(FROZEN[4]).unwrap();
        conn.execute_batch(
            "INSERT INTO sync_state (id) VALUES (1);
             INSERT INTO user_filter (id, epoch, version, bytes) VALUES (1, 9, 42, x'0102');",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 5).unwrap();
    }
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let conn = store.writer();
    let row: (u32, u8, u32, i64, Vec<u8>) = conn
        .query_row(
            "SELECT shard, bits, epoch, version, bytes FROM filter_shards",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(row, (0, 0, 9, 42, vec![1, 2]));
}
