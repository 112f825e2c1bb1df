//! An invite reaches its creator whatever the order: the creator's first sync before the invite
//! is made, between making and redemption, or after the redemption; with the creator's engine and
//! the server restarted between every step, or not. (An invite made and redeemed before the
//! creator's first sync was once lost for ever: the first cursor was taken at the feed's head,
//! past the redemption.)
// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use contactsync_core::{Engine, IdentifierKind, NoProgress, SyncReport};
use contactsync_tests::net::Loopback;
use contactsync_tests::quick;
use contactsync_tests::world::World;

/// When the creator's first sync happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstSync {
    BeforeInvite,
    BeforeRedemption,
    AfterRedemption,
}

/// What restarts between steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restarts {
    None,
    Engine,
    EngineAndServer,
}

fn sync(engine: &Engine, transport: &Loopback) -> SyncReport {
    engine.sync(transport, &quick(true), &NoProgress).unwrap()
}

/// One device: its engine's name and token; reopened and re-pointed after restarts.
struct Device {
    name: &'static str,
    token: String,
    engine: Option<Engine>,
}

impl Device {
    fn new(world: &World, name: &'static str, user_ref: &str) -> Device {
        let (_, registered) = world.device(Some(user_ref));
        Device {
            name,
            token: registered.token,
            engine: Some(world.engine(name)),
        }
    }

    fn engine(&self) -> &Engine {
        self.engine.as_ref().unwrap()
    }

    fn transport(&self, world: &World) -> Loopback {
        world.transport(&self.token)
    }
}

fn step(world: &mut World, devices: &mut [&mut Device], restarts: Restarts) {
    if restarts != Restarts::None {
        for d in devices.iter_mut() {
            // The old engine closes before the new one opens, as in a process restart.
            d.engine = None;
            d.engine = Some(world.engine(d.name));
        }
    }
    if restarts == Restarts::EngineAndServer {
        world.restart();
    }
}

fn run(first: FirstSync, restarts: Restarts) {
    let mut world = World::default();
    let mut k = Device::new(&world, "k", "u_k");
    let mut g = Device::new(&world, "g", "u_g");
    let case = format!("{first:?}, restarts {restarts:?}");

    if first == FirstSync::BeforeInvite {
        sync(k.engine(), &k.transport(&world));
        step(&mut world, &mut [&mut k, &mut g], restarts);
    }
    let invite = k
        .engine()
        .create_invite(&k.transport(&world), None)
        .unwrap();
    step(&mut world, &mut [&mut k, &mut g], restarts);
    if first == FirstSync::BeforeRedemption {
        sync(k.engine(), &k.transport(&world));
        step(&mut world, &mut [&mut k, &mut g], restarts);
    }
    let inviter = g
        .engine()
        .redeem_invite(&g.transport(&world), &invite.code)
        .unwrap();
    assert_eq!(inviter, "u_k", "{case}");
    step(&mut world, &mut [&mut k, &mut g], restarts);

    let report = sync(k.engine(), &k.transport(&world));
    assert_eq!(report.new_matches, 1, "{case}: {report:?}");
    let seen = k.engine().matches().unwrap();
    assert_eq!(seen.len(), 1, "{case}: {seen:?}");
    assert_eq!(
        (seen[0].user_ref.as_str(), seen[0].kind),
        ("u_g", IdentifierKind::Invite),
        "{case}"
    );
    // Reported once: the next sync finds nothing new.
    step(&mut world, &mut [&mut k, &mut g], restarts);
    let again = sync(k.engine(), &k.transport(&world));
    assert_eq!(again.new_matches, 0, "{case}: {again:?}");
    assert_eq!(k.engine().matches().unwrap().len(), 1, "{case}");
}

#[test]
fn an_invite_reaches_its_creator_in_every_order() {
    for first in [
        FirstSync::BeforeInvite,
        FirstSync::BeforeRedemption,
        FirstSync::AfterRedemption,
    ] {
        for restarts in [Restarts::None, Restarts::Engine, Restarts::EngineAndServer] {
            run(first, restarts);
        }
    }
}
