//! A `401 unauthorized` with the app's re-registration hook: the app's backend revokes the
//! device (`DELETE /v1/admin/clients/{id}`), the next sync calls the hook once, which registers
//! anew and hands the transport the new token, and the sync then sends everything in full under
//! the new registration. A failing hook, or a hook that leaves the token as it was (a second
//! 401), ends the sync with the 401 as before.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use contactsync_core::Error;
use contactsync_core::protocol::wire::DeleteReceipt;
use contactsync_core::upload::{Method, Request, Reregister, TransportError, get};
use contactsync_tests::net::register_open;

use super::*;

/// A transport that reads the device's token on every request, as the apps' do.
struct Stored {
    base: String,
    token: Mutex<String>,
}

impl Transport for Stored {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let token = self.token.lock().unwrap().clone();
        Loopback::new(&self.base, Some(&token)).send(request)
    }
}

/// What the hook does.
#[derive(Clone, Copy)]
enum Hook {
    /// Registers anew and stores the token.
    Registers,
    /// Fails (no network, the backend refused).
    Fails,
    /// Returns without a new token.
    KeepsTheOldToken,
}

struct App<'a> {
    transport: &'a Stored,
    hook: Hook,
    calls: AtomicU32,
}

impl Reregister for App<'_> {
    fn reregister(&self) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.hook {
            Hook::Registers => {
                let fresh = register_open(&self.transport.base).map_err(|e| e.to_string())?;
                *self.transport.token.lock().unwrap() = fresh.token;
                Ok(())
            }
            Hook::Fails => Err("the backend is unreachable".into()),
            Hook::KeepsTheOldToken => Ok(()),
        }
    }
}

/// A synced device whose client the app's backend then revoked.
fn revoked() -> (World, Stored, Engine) {
    let (world, _, registered, e) = imported();
    let transport = Stored {
        base: world.server.url(),
        token: Mutex::new(registered.token.clone()),
    };
    sync(&e, &transport);
    assert_eq!(matched_names(&e).len(), 4);
    let _: DeleteReceipt = get(
        &world.admin(),
        Method::Delete,
        &format!("/v1/admin/clients/{}", registered.client_id),
    )
    .unwrap();
    assert_eq!(server_set_size(&world), 0);
    (world, transport, e)
}

fn sync_with(e: &Engine, transport: &Stored, hook: Hook) -> (Result<SyncReport, Error>, u32) {
    let app = App {
        transport,
        hook,
        calls: AtomicU32::new(0),
    };
    let result = e.sync_with(transport, &quick(), &NoProgress, Some(&app));
    (result, app.calls.load(Ordering::SeqCst))
}

fn is_401(result: &Result<SyncReport, Error>) -> bool {
    matches!(result, Err(Error::Server { status: 401, code, .. }) if code == "unauthorized")
}

#[test]
fn a_revoked_device_registers_again_once_and_resends_everything() {
    let (world, transport, e) = revoked();
    let identifiers = e.status().unwrap().identifiers;
    let (result, calls) = sync_with(&e, &transport, Hook::Registers);
    let report = result.unwrap();
    assert_eq!(calls, 1);
    assert_eq!(report.added, identifiers, "everything again, in full");
    assert_eq!(server_set_size(&world), i64::try_from(identifiers).unwrap());
    assert_eq!(matched_names(&e).len(), 4);
    // The new registration holds: the next sync needs no hook.
    let (again, calls) = sync_with(&e, &transport, Hook::Fails);
    assert_eq!((again.unwrap().added, calls), (0, 0));
}

#[test]
fn a_failing_hook_is_the_401() {
    let (_world, transport, e) = revoked();
    let (result, calls) = sync_with(&e, &transport, Hook::Fails);
    assert!(is_401(&result), "{result:?}");
    assert_eq!(calls, 1);
    let Err(Error::Server { message, .. }) = result else {
        unreachable!()
    };
    assert!(message.contains("re-registration failed"), "{message}");
}

#[test]
fn a_second_401_is_the_401_and_the_hook_runs_once() {
    let (_world, transport, e) = revoked();
    let (result, calls) = sync_with(&e, &transport, Hook::KeepsTheOldToken);
    assert!(is_401(&result), "{result:?}");
    assert_eq!(calls, 1);
    // Without a hook, as before it existed.
    let plain = e.sync(&transport, &quick(), &NoProgress);
    assert!(is_401(&plain), "{plain:?}");
}
