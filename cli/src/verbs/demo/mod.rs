//! `contactsync demo`: the whole discovery flow on this machine, in a few seconds.
//!
//! A temporary directory; an embedded reference server on a free loopback port; app users
//! registered through the admin API (by phone, e-mail, linked account and handle, one hidden);
//! an address book imported from the samples that ship inside the binary (`cli/demo/`) plus a
//! generated one; a sync as a device the app's backend vouched for; then a contact joins the app
//! and a friend redeems this device's invite; a second sync brings both through the change feed.
//! Nothing leaves the machine.
//!
//! `--private` runs it against a server in the private mode (`serve --mode private`): the book
//! leaves the device only as blinded elements and the lookups of filter hits, and the contact who
//! joins is found through the users' filter's changes. The invite is left out there: a redeemed
//! invite reaches its sender through the keyed-hash mode's change feed, which a private sync does
//! not read. The keyed-hash mode stays the default: it is `serve`'s default, which the demo's
//! "next:" lines send the reader to, and it shows every feature.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contactsync_core::identifier::{IdentifierKind, Normalizer, Region, invite};
use contactsync_core::protocol::wire::{
    ConfigAnswer, RedeemAnswer, RedeemRequest, Registered, UserAnswer, UserRequest, VouchRequest,
};
use contactsync_core::source::{self, ReadOptions, SourceItem};
use contactsync_core::upload::{Method, call, get};
use contactsync_core::{
    Config, Engine, Error, ImportReport, Match, NoProgress, SyncOptions, SyncReport,
};
use contactsync_server::{LimitsConfig, RunningServer, ServerConfig};

use crate::credentials::{self, Credential};
use crate::failure::{Failure, UsageError};
use crate::identifiers::admin_identifier;
use crate::output::match_name;
use crate::remote::transport;
use crate::transport::{HttpTransport, ServerUrl};

mod book;

use book::generated_book;

/// The sample address book, as an iPhone exports it (vCard 3.0).
const SAMPLE_VCF: &str = include_str!("../../../demo/sample.vcf");
/// The sample address book, as Google Contacts exports it (CSV).
const SAMPLE_CSV: &str = include_str!("../../../demo/sample.csv");
/// Contacts in the generated part of the book.
const GENERATED: usize = 300;

/// The region the samples' national numbers are in.
const REGION: &str = "US";

/// One app user the demo registers: reference, what they are found by, discoverable.
struct AppUser {
    user_ref: &'static str,
    identifiers: &'static [&'static str],
    discoverable: bool,
}

/// The app's users at the start. Each is in the book through one identifier of a different
/// kind, except the hidden one (who must not be found) and the friend (not in the book at all).
const USERS: &[AppUser] = &[
    // Phone numbers, in any format: the admin API gets them canonical.
    AppUser {
        user_ref: "u_amara",
        identifiers: &["+44 7911 123456"],
        discoverable: true,
    },
    AppUser {
        user_ref: "u_bruno",
        identifiers: &["(202) 555-0186"],
        discoverable: true,
    },
    // E-mail addresses only.
    AppUser {
        user_ref: "u_wei",
        identifiers: &["wei.chen.home@example.net"],
        discoverable: true,
    },
    AppUser {
        user_ref: "u_dana",
        identifiers: &["dana@example.org"],
        discoverable: true,
    },
    // A linked account (the book has it from the phone's Google account).
    AppUser {
        user_ref: "u_eli",
        identifiers: &["google:1078543"],
        discoverable: true,
    },
    // A handle in the app's namespace.
    AppUser {
        user_ref: "u_farah",
        identifiers: &["handle:farah_k"],
        discoverable: true,
    },
    // In the book, but hidden: never found.
    AppUser {
        user_ref: "u_hugo",
        identifiers: &["+33 6 12 34 56 78"],
        discoverable: false,
    },
    // The friend who redeems this device's invite; not in the book.
    AppUser {
        user_ref: "u_zoe",
        identifiers: &["zoe.friend@example.com"],
        discoverable: true,
    },
];

/// Joins the app between the two syncs.
const JOINS_LATER: AppUser = AppUser {
    user_ref: "u_gus",
    identifiers: &["(415) 555-0132"],
    discoverable: true,
};

/// This device's user.
const ME: &str = "u_you";

/// A fresh random admin token: 32 bytes, URL-safe base64.
fn random_token() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| UsageError(format!("no randomness for a token: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A step that failed, named.
fn step(what: &str) -> impl Fn(Error) -> Failure + '_ {
    move |e| UsageError(format!("demo: {what}: {e}")).into()
}

/// `contactsync demo`; `private`: against a server in the private mode.
pub fn demo(out: &mut impl Write, keep: Option<&Path>, private: bool) -> Result<ExitCode, Failure> {
    let region = Region::new(REGION).map_err(|e| UsageError(format!("demo: region: {e}")))?;
    contactsync_core::identifier::phone::warm_up_in_background(region);
    let temp;
    let dir: PathBuf = if let Some(dir) = keep {
        std::fs::create_dir_all(dir)
            .map_err(|e| UsageError(format!("demo: creating {}: {e}", dir.display())))?;
        for file in ["server.db", "contactsync.db"] {
            if dir.join(file).exists() {
                return Err(UsageError(format!(
                    "demo: {} already holds a {file}: give --keep an empty or new directory",
                    dir.display()
                ))
                .into());
            }
        }
        dir.to_owned()
    } else {
        temp = tempfile::Builder::new()
            .prefix("contactsync-demo-")
            .tempdir()
            .map_err(|e| UsageError(format!("demo: temporary directory: {e}")))?;
        temp.path().to_owned()
    };

    // 1. The server: loopback, a free port, SQLite in the directory, a short check interval.
    let admin_token = random_token()?;
    let mut config = ServerConfig::new(
        dir.join("server.db"),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        admin_token.clone(),
    );
    config.limits = LimitsConfig {
        check_interval_s: 5,
        ..LimitsConfig::default()
    };
    // The demo's devices register themselves (a real app's backend vouches for them).
    config.open_registration = true;
    // Private: the users' filter rebuilt at most once a second, so the contact who joins
    // between the syncs is in it a second later (a server's default is a minute).
    config.private.enabled = private;
    config.private.filter_rebuild = std::time::Duration::from_secs(1);
    let server = contactsync_server::start(config)
        .map_err(|e| UsageError(format!("demo: starting the server: {e}")))?;
    let shown = Shown {
        dir: &dir,
        kept: keep.is_some(),
        private,
    };
    let result = run(out, shown, region, &server, &admin_token);
    server.stop();
    result
}

/// Where the demo keeps its data, and how it runs.
#[derive(Clone, Copy)]
struct Shown<'a> {
    dir: &'a Path,
    /// `--keep`: the databases stay.
    kept: bool,
    /// `--private`: the server is in the private mode.
    private: bool,
}

fn run(
    out: &mut impl Write,
    shown: Shown<'_>,
    region: Region,
    server: &RunningServer,
    admin_token: &str,
) -> Result<ExitCode, Failure> {
    let Shown { dir, kept, private } = shown;
    let url = ServerUrl::parse(&server.url()).map_err(|e| UsageError(format!("demo: {e}")))?;
    writeln!(
        out,
        "contactsync demo: a discovery server at {url} ({}), data in {}{}",
        if private {
            "private mode"
        } else {
            "keyed-hash mode"
        },
        dir.display(),
        if kept { "" } else { " (removed at the end)" }
    )?;
    let admin = transport(&url, Some(admin_token))?;

    // 2. The app's users, through the admin API (raw identifiers, hashed by the server).
    let normalizer = Normalizer::new(region);
    for user in USERS {
        put_user(&admin, normalizer, user)?;
    }
    let hidden = USERS.iter().filter(|u| !u.discoverable).count();
    writeln!(
        out,
        "app users:    {} registered by the app's backend (phone, e-mail, linked account, \
         handle; {hidden} hidden)",
        USERS.len()
    )?;

    // 3. This device's address book: the two samples plus a generated book.
    let db = dir.join("contactsync.db");
    let engine =
        Engine::open(&db, Config::with_region(region)).map_err(step("opening the book"))?;
    let report = import(&engine)?;
    let status = engine.status().map_err(step("reading the book"))?;
    writeln!(
        out,
        "address book: {} contacts (sample.vcf, sample.csv, {GENERATED} generated): {} \
         identifiers, {} values rejected",
        report.added + report.changed + report.unchanged,
        status.identifiers,
        report.rejected
    )?;

    // 4. This device, vouched for by the app's backend (so it can use invites).
    let me = vouch(&admin, &url, ME)?;
    if kept {
        save_credential(&db, &url, &me)?;
    }
    let device = transport(&url, Some(&me.token))?;
    let options = SyncOptions {
        force: true,
        ..SyncOptions::default()
    };
    let first = engine
        .sync(&device, &options, &NoProgress)
        .map_err(step("first sync"))?;
    writeln!(out, "sync 1:       {}", sync_line(&first, private))?;

    // 5. Meanwhile: a contact joins the app; in the keyed-hash mode, a friend redeems this
    // device's invite too.
    let via = if private {
        let version = filter_version(&device)?;
        put_user(&admin, normalizer, &JOINS_LATER)?;
        wait_for_filter(&device, version)?;
        writeln!(
            out,
            "meanwhile:    u_gus joins the app, and the users' filter with him"
        )?;
        "the filter's changes"
    } else {
        put_user(&admin, normalizer, &JOINS_LATER)?;
        let invite = engine
            .create_invite(&device, Some(3600))
            .map_err(step("creating an invite"))?;
        let friend = vouch(&admin, &url, "u_zoe")?;
        let friend_device = transport(&url, Some(&friend.token))?;
        let redeemed: RedeemAnswer = call(
            &friend_device,
            Method::Post,
            "/v1/invites/redeem",
            Some(&RedeemRequest {
                code: invite.code.clone(),
            }),
        )
        .map_err(step("the friend redeeming the invite"))?;
        writeln!(
            out,
            "meanwhile:    u_gus joins the app; you share invite {} and u_zoe redeems it (sees {})",
            invite::display(&invite.code),
            redeemed.user_ref
        )?;
        "the change feed"
    };

    let second = engine
        .sync(&device, &options, &NoProgress)
        .map_err(step("second sync"))?;
    writeln!(
        out,
        "sync 2:       {} (through {via})",
        sync_line(&second, private)
    )?;

    write_found_and_next(out, &engine, &db, shown)
}

/// The version of the users' filter the server publishes (private mode).
fn filter_version(device: &HttpTransport) -> Result<u64, Failure> {
    let config: ConfigAnswer =
        get(device, Method::Get, "/v1/config").map_err(step("reading the server's config"))?;
    config.private.map(|p| p.filter_version).ok_or_else(|| {
        UsageError("demo: the server does not offer private discovery".into()).into()
    })
}

/// Waits (at most ten seconds) until the server's filter has moved past `version`: it rebuilds
/// at most once a second, and a sync before that would not see the user who joined.
fn wait_for_filter(device: &HttpTransport, version: u64) -> Result<(), Failure> {
    for _ in 0..100 {
        if filter_version(device)? > version {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(UsageError("demo: the server's filter was not rebuilt within 10 s".into()).into())
}

/// What was found, and through which identifier; then what to run next.
fn write_found_and_next(
    out: &mut impl Write,
    engine: &Engine,
    db: &Path,
    shown: Shown<'_>,
) -> Result<ExitCode, Failure> {
    let Shown { kept, private, .. } = shown;
    let mut found = engine.matches().map_err(step("reading the matches"))?;
    found.sort_by(|a, b| {
        (a.source_id.is_none(), match_name(a), a.kind, &a.canonical).cmp(&(
            b.source_id.is_none(),
            match_name(b),
            b.kind,
            &b.canonical,
        ))
    });
    writeln!(out)?;
    let invites = found.iter().filter(|m| m.source_id.is_none()).count();
    let through = if private {
        String::new()
    } else {
        format!(", {invites} through an invite")
    };
    writeln!(
        out,
        "on the app: {} of your contacts{through} (hidden users and everyone else stay \
         unknown):",
        found.len() - invites
    )?;
    let width = found
        .iter()
        .map(|m| match_name(m).chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    for m in &found {
        write_found(out, m, width)?;
    }
    writeln!(out)?;
    if private {
        writeln!(
            out,
            "your book reached the server only as blinded elements (random points) and the \
             lookups of filter hits: no name, number or address, nor a hash of one"
        )?;
    } else {
        writeln!(
            out,
            "your book reached the server only as keyed hashes: no name, number or address"
        )?;
    }
    writeln!(out, "next:")?;
    if kept {
        writeln!(
            out,
            "  contactsync matches --db {}      # the matches, kept",
            db.display()
        )?;
    }
    if !kept {
        writeln!(
            out,
            "  contactsync demo --keep DIR              # the same, keeping both databases"
        )?;
    }
    if !private {
        writeln!(
            out,
            "  contactsync demo --private               # the server never sees a non-user's contact"
        )?;
    }
    let serve = if private {
        "contactsync serve --mode private"
    } else {
        "contactsync serve"
    };
    writeln!(
        out,
        "  {serve:<41}# a server of your own (prints its admin token)"
    )?;
    writeln!(
        out,
        "  contactsync import --db me.db BOOK.vcf   # your own export (vCard or CSV)"
    )?;
    writeln!(
        out,
        "  contactsync sync --db me.db --server http://127.0.0.1:8787 && contactsync matches --db me.db"
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Registers (or replaces) an app user through the admin API.
fn put_user(admin: &HttpTransport, normalizer: Normalizer, user: &AppUser) -> Result<(), Failure> {
    let identifiers = user
        .identifiers
        .iter()
        .map(|raw| admin_identifier(normalizer, raw))
        .collect::<Result<Vec<_>, _>>()?;
    let _: UserAnswer = call(
        admin,
        Method::Put,
        &format!("/v1/admin/users/{}", user.user_ref),
        Some(&UserRequest {
            discoverable: user.discoverable,
            identifiers,
        }),
    )
    .map_err(|e| UsageError(format!("demo: registering app user {}: {e}", user.user_ref)))?;
    Ok(())
}

/// A device token for a user, as the app's backend gets it.
fn vouch(admin: &HttpTransport, url: &ServerUrl, user_ref: &str) -> Result<Registered, Failure> {
    call(
        admin,
        Method::Post,
        "/v1/admin/clients",
        Some(&VouchRequest {
            user_ref: user_ref.to_owned(),
        }),
    )
    .map_err(|e| {
        UsageError(format!(
            "demo: registering the device of {user_ref} with {url}: {e}"
        ))
        .into()
    })
}

/// With `--keep`, the book's credential goes beside it as `contactsync register` would write it.
fn save_credential(db: &Path, url: &ServerUrl, me: &Registered) -> Result<(), Failure> {
    credentials::save(
        db,
        &Credential {
            server: url.as_str().to_owned(),
            client_id: me.client_id.clone(),
            token: me.token.clone(),
            user_ref: Some(ME.to_owned()),
        },
    )
    .map(|_| ())
}

fn sync_line(r: &SyncReport, private: bool) -> String {
    if private {
        return format!(
            "{} identifiers evaluated blind, {} new matches, {} lost",
            r.added, r.new_matches, r.lost_matches
        );
    }
    let batches = if r.batches_sent == 1 {
        "batch"
    } else {
        "batches"
    };
    format!(
        "{} {batches}, {} hashes added, {} removed, {} new matches, {} lost",
        r.batches_sent, r.added, r.removed, r.new_matches, r.lost_matches
    )
}

fn write_found(out: &mut impl Write, m: &Match, width: usize) -> std::io::Result<()> {
    let via = match (m.source_id.is_none(), m.kind) {
        (true, _) => "invite (redeemed)".to_owned(),
        (false, IdentifierKind::Invite) => format!("invite  {}", invite::display(&m.canonical)),
        (false, kind) => format!("{:<8}{}", kind.as_str(), m.canonical),
    };
    writeln!(
        out,
        "  {:<width$}  {via:<36}  {}",
        match_name(m),
        m.user_ref
    )
}

/// Imports the samples and the generated book as one snapshot.
fn import(engine: &Engine) -> Result<ImportReport, Failure> {
    let sample = |name: &str, text: &'static str| {
        let options = ReadOptions {
            id_prefix: name.to_owned(),
            ..ReadOptions::default()
        };
        source::read(text.as_bytes(), &options)
            .map_err(|e| UsageError(format!("demo: reading the embedded {name}: {e}")))
    };
    let files = [
        sample("sample.vcf", SAMPLE_VCF)?,
        sample("sample.csv", SAMPLE_CSV)?,
    ];
    let contacts = files
        .into_iter()
        .flatten()
        .filter_map(|item| match item {
            Ok(SourceItem::Contact(c)) => Some(Ok(c.contact)),
            Ok(SourceItem::Broken(_)) => None,
            Err(e) => Some(Err(Error::Io(format!("embedded sample: {e}")))),
        })
        .chain(generated_book(GENERATED).into_iter().map(Ok));
    engine
        .try_import_snapshot(contacts, &NoProgress)
        .map_err(step("importing the address book"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_read() {
        for text in [SAMPLE_VCF, SAMPLE_CSV] {
            let items: Vec<_> = source::read(text.as_bytes(), &ReadOptions::default())
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(items.len() >= 4);
            assert!(items.iter().all(|i| matches!(i, SourceItem::Contact(_))));
        }
    }
}
