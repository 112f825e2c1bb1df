//! A `401 unauthorized` with the app's re-registration hook: the app's backend revokes the
//! device (`DELETE /v1/admin/clients/{id}`), the next sync calls the hook once, which registers
//! anew and hands the transport the new token, and the sync then sends everything in full under
//! the new registration. A failing hook, or a hook that leaves the token as it was (a second
//! 401), ends the sync with the 401 as before. The same for every other call that sends the
//! device's credentials: `forget` (which still wipes only after a receipt), `create_invite`,
//! `redeem_invite`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use contactsync_core::Error;
use contactsync_core::protocol::wire::DeleteReceipt;
use contactsync_core::upload::{Method, Request, Reregister, TransportError, call, get};
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
enum Hook {
    /// Registers anew and stores the token.
    Registers,
    /// Has the app's backend (the admin API) register the device for this user, and stores the
    /// token: what an app whose devices invite does.
    Vouches(Loopback, &'static str),
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
        match &self.hook {
            Hook::Registers => {
                let fresh = register_open(&self.transport.base).map_err(|e| e.to_string())?;
                *self.transport.token.lock().unwrap() = fresh.token;
                Ok(())
            }
            Hook::Vouches(admin, user_ref) => {
                let fresh: Registered = call(
                    admin,
                    Method::Post,
                    "/v1/admin/clients",
                    Some(&serde_json::json!({ "user_ref": user_ref })),
                )
                .map_err(|e| e.to_string())?;
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
    let transport = stored(&world, &registered);
    sync(&e, &transport);
    assert_eq!(matched(&e).len(), 4);
    revoke(&world, &registered);
    assert_eq!(server_set_size(&world), 0);
    (world, transport, e)
}

/// The app's transport, sending `registered`'s token.
fn stored(world: &World, registered: &Registered) -> Stored {
    Stored {
        base: world.server.url(),
        token: Mutex::new(registered.token.clone()),
    }
}

/// The app's backend revokes the device (`DELETE /v1/admin/clients/{id}`).
fn revoke(world: &World, registered: &Registered) {
    let _: DeleteReceipt = get(
        &world.admin(),
        Method::Delete,
        &format!("/v1/admin/clients/{}", registered.client_id),
    )
    .unwrap();
}

/// Runs `call` with the app's hook; its result and the hook's calls.
fn with_hook<T>(
    transport: &Stored,
    hook: Hook,
    call: impl FnOnce(&dyn Reregister) -> Result<T, Error>,
) -> (Result<T, Error>, u32) {
    let app = App {
        transport,
        hook,
        calls: AtomicU32::new(0),
    };
    let result = call(&app);
    (result, app.calls.load(Ordering::SeqCst))
}

fn sync_with(e: &Engine, transport: &Stored, hook: Hook) -> (Result<SyncReport, Error>, u32) {
    with_hook(transport, hook, |app| {
        e.sync_with(transport, &quick(), &NoProgress, Some(app))
    })
}

fn is_401<T: std::fmt::Debug>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::Server { status: 401, code, .. }) if code == "unauthorized")
}

/// The 401 of a failing hook, which says so.
fn assert_hook_failed<T: std::fmt::Debug>(result: &Result<T, Error>) {
    assert!(is_401(result), "{result:?}");
    let Err(Error::Server { message, .. }) = result else {
        unreachable!()
    };
    assert!(
        message.contains("re-registration failed: the backend is unreachable"),
        "{message}"
    );
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
    assert_eq!(matched(&e).len(), 4);
    // The new registration holds: the next sync needs no hook.
    let (again, calls) = sync_with(&e, &transport, Hook::Fails);
    assert_eq!((again.unwrap().added, calls), (0, 0));
}

#[test]
fn a_failing_hook_is_the_401() {
    let (_world, transport, e) = revoked();
    let (result, calls) = sync_with(&e, &transport, Hook::Fails);
    assert_hook_failed(&result);
    assert_eq!(calls, 1);
}

#[test]
fn forget_registers_again_once_and_wipes_only_after_the_receipt() {
    let (_world, transport, e) = revoked();
    let contacts = e.status().unwrap().contacts;
    // A failing hook, or a second 401: no receipt, nothing wiped.
    let (result, calls) = with_hook(&transport, Hook::Fails, |app| {
        e.forget_with(&transport, Some(app))
    });
    assert_hook_failed(&result);
    assert_eq!(calls, 1);
    let (result, calls) = with_hook(&transport, Hook::KeepsTheOldToken, |app| {
        e.forget_with(&transport, Some(app))
    });
    assert!(is_401(&result), "{result:?}");
    assert_eq!((calls, e.status().unwrap().contacts), (1, contacts));
    // The hook registers: the new registration is deleted, with a receipt, then the store wiped.
    let (result, calls) = with_hook(&transport, Hook::Registers, |app| {
        e.forget_with(&transport, Some(app))
    });
    let receipt = result.unwrap();
    assert_eq!((calls, receipt.deleted.hashes), (1, 0));
    assert_eq!(e.status().unwrap().contacts, 0);
    // The new registration is gone too: its token is refused.
    assert!(is_401(&e.forget(&transport)), "deleted on the server");
}

#[test]
fn invites_register_again_once_and_the_next_sync_sends_everything() {
    let world = World::default();
    world.register_users();
    let (_, alice_registered) = world.device(Some("u_alice"));
    let (_, bo_registered) = world.device(Some("u_bo"));
    let alice_wire = stored(&world, &alice_registered);
    let bo_wire = stored(&world, &bo_registered);
    let alice = world.engine("alice");
    let bo = world.engine("bo");
    alice.import_snapshot(book(), &NoProgress).unwrap();
    let identifiers = sync(&alice, &alice_wire).added;
    revoke(&world, &alice_registered);
    revoke(&world, &bo_registered);

    let vouch = |user| Hook::Vouches(world.admin(), user);
    let (failed, calls) = with_hook(&alice_wire, Hook::Fails, |app| {
        alice.create_invite_with(&alice_wire, None, Some(app))
    });
    assert_hook_failed(&failed);
    assert_eq!(calls, 1);
    let (invite, calls) = with_hook(&alice_wire, vouch("u_alice"), |app| {
        alice.create_invite_with(&alice_wire, None, Some(app))
    });
    let invite = invite.unwrap();
    assert_eq!(calls, 1);
    // The new registration holds nothing: the next sync sends everything again.
    assert_eq!(sync(&alice, &alice_wire).added, identifiers);

    let (failed, calls) = with_hook(&bo_wire, Hook::Fails, |app| {
        bo.redeem_invite_with(&bo_wire, &invite.code, Some(app))
    });
    assert_hook_failed(&failed);
    assert_eq!(calls, 1);
    // The code the 401 refused is still open: it redeems under the new registration.
    let (inviter, calls) = with_hook(&bo_wire, vouch("u_bo"), |app| {
        bo.redeem_invite_with(&bo_wire, &invite.code, Some(app))
    });
    assert_eq!((inviter.unwrap().as_str(), calls), ("u_alice", 1));
    let report = sync(&alice, &alice_wire);
    assert_eq!(report.new_matches, 1, "{report:?}");
    assert!(
        alice
            .matches()
            .unwrap()
            .iter()
            .any(|m| m.user_ref == "u_bo")
    );
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
