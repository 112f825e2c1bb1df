//! The limits of open registration (`POST /v1/clients`), which makes a device — and with it a
//! fresh daily quota of new identifiers — cost nothing: without them one address registered
//! thousands of devices a second and tested every number of a country in hours
//! (docs/privacy.md, "Enumeration by a client").
//!
//! Three limits, all per client address ([`crate::client_ip`]: an IPv4 address or an IPv6 /64):
//!
//! - registrations, a token bucket per address and one for the whole server;
//! - new identifiers that openly registered devices add from one address in a UTC day, all of
//!   its devices together: the bound on enumeration, since registered devices accumulate and each
//!   keeps its own daily quota for ever (a bound on registrations alone grows with time squared);
//! - devices that registered and never uploaded expire (the sweep deletes them), so unused
//!   registrations do not pile up in the database.
//!
//! **Where the counts live: in this process's memory.** Counting a refused registration in the
//! database would make an abusive flood a stream of writes to the database every other client
//! needs; in memory it costs a map lookup. The price: each instance counts alone, so `N`
//! instances behind one load balancer allow `N` times the configured rates (divide them by `N`),
//! and a restart forgets the day's per-address count of identifiers. Open registration is for
//! small and demo deployments; an app at scale vouches for its devices through its backend
//! (`POST /v1/admin/clients`), which none of these limits touch.
//!
//! Memory is bounded: at most [`RegistrationLimits::max_tracked_addresses`] addresses per map.
//! A registration bucket that has filled up again is the same as no bucket and is forgotten; the
//! identifier counts are forgotten when the UTC day changes. An address new to a full map is
//! refused (`429`) rather than let in uncounted, which would let an attacker with many
//! addresses switch the limits off.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::client_ip::limit_key;
use crate::connections::Episode;
use crate::error::{ApiError, LimitReason, ServerError};

const DAY: i64 = 86_400;

/// The limits of open registration (docs/protocol.md, "Registration"). Nothing here applies to
/// devices the app's backend vouched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationLimits {
    /// Registrations one address may make back to back (its bucket's size).
    pub per_ip_burst: u32,
    /// Registrations per hour an address's bucket refills with.
    pub per_ip_per_hour: u32,
    /// Registrations per minute for the whole server (a bucket of this size, refilled over a
    /// minute).
    pub global_per_minute: u32,
    /// New identifiers per UTC day that the openly registered devices using one address may add,
    /// all together. Each device's own quota (`LimitsConfig::daily_new_identifiers`) still
    /// applies; this bounds what registering more devices buys.
    pub identifiers_per_ip_per_day: u32,
    /// New identifiers per UTC day that all openly registered devices may add together: caps
    /// what an attacker with many addresses gets (at the price that one who spends it stops the
    /// day's additions of every open device; vouched devices are never counted).
    pub identifiers_global_per_day: u32,
    /// An openly registered device with no upload this long after registering is deleted by the
    /// periodic sweep.
    pub unsynced_client_ttl: Duration,
    /// Addresses tracked at once, per map (registration buckets; identifier counts).
    pub max_tracked_addresses: u32,
}

impl Default for RegistrationLimits {
    /// docs/privacy.md has the arithmetic behind these.
    fn default() -> Self {
        RegistrationLimits {
            per_ip_burst: 5,
            per_ip_per_hour: 1,
            global_per_minute: 60,
            identifiers_per_ip_per_day: 50_000,
            identifiers_global_per_day: 1_000_000,
            unsynced_client_ttl: Duration::from_secs(24 * 3600),
            max_tracked_addresses: 100_000,
        }
    }
}

impl RegistrationLimits {
    /// Limits no test or load generator on one loopback address reaches (the unsynced-device
    /// expiry stays at its default). Not for a server anyone else can reach.
    pub fn unlimited() -> Self {
        RegistrationLimits {
            per_ip_burst: u32::MAX,
            per_ip_per_hour: 3_600_000,
            global_per_minute: 60_000,
            identifiers_per_ip_per_day: u32::MAX,
            identifiers_global_per_day: u32::MAX,
            ..RegistrationLimits::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ServerError> {
        let counts = [
            self.per_ip_burst,
            self.per_ip_per_hour,
            self.global_per_minute,
            self.identifiers_per_ip_per_day,
            self.identifiers_global_per_day,
            self.max_tracked_addresses,
        ];
        if counts.contains(&0) {
            return Err(ServerError::Config(
                "registration limits must be at least 1".into(),
            ));
        }
        // Buckets refill in whole milliseconds.
        if self.per_ip_per_hour > 3_600_000 || self.global_per_minute > 60_000 {
            return Err(ServerError::Config(
                "registrations per IP per hour must be at most 3600000, globally per minute at \
                 most 60000"
                    .into(),
            ));
        }
        if self.unsynced_client_ttl.as_secs() == 0 {
            return Err(ServerError::Config(
                "unsynced_client_ttl must be at least one second".into(),
            ));
        }
        Ok(())
    }
}

/// A token bucket as its theoretical arrival time (GCRA): the bucket is full when it is in the
/// past, and a take moves it one interval on; a take that would move it more than `burst`
/// intervals past now is refused. One integer per bucket, and no refill to compute.
#[derive(Debug, Clone, Copy)]
struct Rate {
    /// Milliseconds one token takes to come back.
    interval_ms: i64,
    /// The bucket's size.
    burst: i64,
}

impl Rate {
    fn per(period_ms: i64, n: u32, burst: u32) -> Rate {
        Rate {
            interval_ms: (period_ms / i64::from(n.max(1))).max(1),
            burst: i64::from(burst),
        }
    }

    /// The bucket's next arrival time after a take at `now_ms`, or the milliseconds until a
    /// take would succeed.
    fn take(self, tat_ms: Option<i64>, now_ms: i64) -> Result<i64, i64> {
        let next = tat_ms.unwrap_or(now_ms).max(now_ms) + self.interval_ms;
        let over = next - now_ms - self.interval_ms.saturating_mul(self.burst);
        if over > 0 { Err(over) } else { Ok(next) }
    }
}

/// The counters of open registration, in memory (see the module's comment).
#[derive(Debug)]
pub(crate) struct Registrations {
    limits: RegistrationLimits,
    state: Mutex<State>,
    /// Refusals of new addresses for a full table, as log episodes.
    full: Episode,
}

#[derive(Debug, Default)]
struct State {
    global: Option<i64>,
    per_ip: HashMap<IpAddr, i64>,
    /// When full buckets were last forgotten (Unix milliseconds): at most once a second, so a
    /// full map does not cost a scan per request.
    last_purge_ms: i64,
    /// The UTC day `identifiers` counts; it only moves forward.
    day: i64,
    identifiers: HashMap<IpAddr, u64>,
    /// Every address's identifiers of `day` together.
    identifiers_total: u64,
}

/// The limits' key for a request: its address's group, or one shared key when the address is
/// unknown (a request that did not come over a connection: the fuzz targets).
fn key_of(from: Option<IpAddr>) -> IpAddr {
    from.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), limit_key)
}

fn retry_after_s(ms: i64) -> u64 {
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}

impl Registrations {
    pub(crate) fn new(limits: RegistrationLimits) -> Self {
        Registrations {
            limits,
            state: Mutex::new(State::default()),
            full: Episode::default(),
        }
    }

    pub(crate) fn limits(&self) -> &RegistrationLimits {
        &self.limits
    }

    /// An address was refused because a table is full: one `warn` line per episode, not one per
    /// refusal (a flood from many addresses would otherwise flood the log).
    fn table_full(&self) {
        if self.full.hit() {
            tracing::warn!(
                max_tracked_addresses = self.limits.max_tracked_addresses,
                "open registration: too many client addresses tracked; refusing new ones \
                 (many addresses at once: an attack, or raise max_tracked_addresses)"
            );
        }
    }

    /// An address was counted: ends a full-table episode that has been quiet for a while.
    fn counted(&self) {
        if let Some(refusals) = self.full.clear() {
            tracing::info!(refusals, "open registration: client addresses fit again");
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a registration from `from`'s bucket and the global one, or neither: `429`, reason
    /// `rate`, with the wait until both would allow it.
    pub(crate) fn admit(&self, from: Option<IpAddr>, now: i64) -> Result<(), ApiError> {
        let l = &self.limits;
        let per_ip = Rate::per(3_600_000, l.per_ip_per_hour, l.per_ip_burst);
        let global = Rate::per(60_000, l.global_per_minute, l.global_per_minute);
        let key = key_of(from);
        let now_ms = now.saturating_mul(1000);
        let mut state = self.state();
        let tat = state.per_ip.get(&key).copied();
        if tat.is_none() && state.per_ip.len() >= l.max_tracked_addresses as usize {
            if state.last_purge_ms < now_ms - 1000 {
                state.last_purge_ms = now_ms;
                state.per_ip.retain(|_, tat| *tat > now_ms);
            }
            if state.per_ip.len() >= l.max_tracked_addresses as usize {
                self.table_full();
                return Err(too_many(60, LimitReason::Registration));
            }
        }
        self.counted();
        let ip_next = per_ip.take(tat, now_ms);
        let global_next = global.take(state.global, now_ms);
        match (ip_next, global_next) {
            (Ok(ip_next), Ok(global_next)) => {
                state.per_ip.insert(key, ip_next);
                state.global = Some(global_next);
                Ok(())
            }
            (Err(a), Err(b)) => Err(too_many(retry_after_s(a.max(b)), LimitReason::Registration)),
            (Err(wait), Ok(_)) | (Ok(_), Err(wait)) => {
                Err(too_many(retry_after_s(wait), LimitReason::Registration))
            }
        }
    }

    /// The identifiers openly registered devices may still add from `from` today: what is left
    /// of its address's budget and of the server's.
    pub(crate) fn identifiers_left(&self, from: Option<IpAddr>, now: i64) -> u64 {
        let per_ip = u64::from(self.limits.identifiers_per_ip_per_day);
        let global = u64::from(self.limits.identifiers_global_per_day);
        let mut state = self.state();
        state.roll_day(now.div_euclid(DAY));
        let used = state.identifiers.get(&key_of(from)).copied().unwrap_or(0);
        per_ip
            .saturating_sub(used)
            .min(global.saturating_sub(state.identifiers_total))
    }

    /// Charges `n` new identifiers of an openly registered device to `from`'s day, or refuses
    /// them all (`429`, reason `daily_quota`, until the next UTC day: what a client defers its
    /// additions by). The charge is given back unless [`Reservation::keep`] is called: the
    /// caller keeps it once the batch it pays for has committed.
    pub(crate) fn reserve(
        &self,
        from: Option<IpAddr>,
        n: u64,
        now: i64,
    ) -> Result<Reservation<'_>, ApiError> {
        let key = key_of(from);
        let day = now.div_euclid(DAY);
        let mut state = self.state();
        let day = state.roll_day(day);
        let until_tomorrow = retry_after_s((day + 1) * DAY * 1000 - now * 1000);
        if n == 0 {
            return Ok(Reservation::nothing(self));
        }
        if !state.identifiers.contains_key(&key)
            && state.identifiers.len() >= self.limits.max_tracked_addresses as usize
        {
            self.table_full();
            return Err(too_many(until_tomorrow, LimitReason::DailyQuota));
        }
        if state.identifiers_total + n > u64::from(self.limits.identifiers_global_per_day) {
            return Err(too_many(until_tomorrow, LimitReason::DailyQuota));
        }
        self.counted();
        let used = state.identifiers.entry(key).or_insert(0);
        if *used + n > u64::from(self.limits.identifiers_per_ip_per_day) {
            return Err(too_many(until_tomorrow, LimitReason::DailyQuota));
        }
        *used += n;
        state.identifiers_total += n;
        Ok(Reservation {
            owner: self,
            key,
            day,
            n,
            kept: false,
        })
    }
}

impl State {
    /// Moves the identifier counts to `day` when it is newer (forgetting the old day's); an
    /// older `day` (a clock a little behind) counts in the stored one. Returns the day that
    /// counts.
    fn roll_day(&mut self, day: i64) -> i64 {
        if day > self.day {
            self.day = day;
            self.identifiers.clear();
            self.identifiers_total = 0;
        }
        self.day
    }
}

fn too_many(retry_after_s: u64, reason: LimitReason) -> ApiError {
    ApiError::TooManyRequests {
        retry_after_s,
        reason,
    }
}

/// Identifiers charged to an address for a batch not yet committed; given back when dropped
/// without [`Reservation::keep`] (the batch failed, or its transaction runs again).
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    owner: &'a Registrations,
    key: IpAddr,
    day: i64,
    n: u64,
    kept: bool,
}

impl<'a> Reservation<'a> {
    fn nothing(owner: &'a Registrations) -> Self {
        Reservation {
            owner,
            key: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            day: 0,
            n: 0,
            kept: true,
        }
    }

    /// The batch committed: the charge stays.
    pub(crate) fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let mut state = self.owner.state();
        if state.day != self.day {
            return;
        }
        if let Some(used) = state.identifiers.get_mut(&self.key) {
            *used = used.saturating_sub(self.n);
        }
        state.identifiers_total = state.identifiers_total.saturating_sub(self.n);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::unnecessary_wraps, reason = "tests")]

    use super::*;

    /// An address as the HTTP layer gives it.
    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)))
    }

    fn limits() -> RegistrationLimits {
        RegistrationLimits {
            per_ip_burst: 3,
            per_ip_per_hour: 2,
            global_per_minute: 5,
            identifiers_per_ip_per_day: 100,
            identifiers_global_per_day: 250,
            max_tracked_addresses: 4,
            ..RegistrationLimits::default()
        }
    }

    #[test]
    fn an_address_gets_its_burst_then_one_per_refill() {
        let r = Registrations::new(limits());
        let t = 1_000_000;
        for _ in 0..3 {
            r.admit(ip(1), t).unwrap();
        }
        let Err(ApiError::TooManyRequests { retry_after_s, .. }) = r.admit(ip(1), t) else {
            panic!("the fourth is refused");
        };
        assert_eq!(retry_after_s, 1800, "one token per half hour");
        // Another address still registers.
        r.admit(ip(2), t).unwrap();
        assert!(r.admit(ip(1), t + 1799).is_err());
        r.admit(ip(1), t + 1800).unwrap();
    }

    #[test]
    fn the_global_bucket_caps_every_address_together() {
        let r = Registrations::new(RegistrationLimits {
            max_tracked_addresses: 100,
            ..limits()
        });
        let t = 1_000_000;
        for n in 1..=5 {
            r.admit(ip(n), t).unwrap();
        }
        let Err(ApiError::TooManyRequests { retry_after_s, .. }) = r.admit(ip(6), t) else {
            panic!("the global bucket is empty");
        };
        assert_eq!(retry_after_s, 12, "one token per 12 s");
        // A refusal took nothing: address 6's bucket is untouched.
        r.admit(ip(6), t + 12).unwrap();
    }

    #[test]
    fn tracked_addresses_are_bounded() {
        let r = Registrations::new(RegistrationLimits {
            global_per_minute: 1000,
            ..limits()
        });
        let t = 1_000_000;
        for n in 1..=4 {
            r.admit(ip(n), t).unwrap();
        }
        assert!(r.admit(ip(5), t).is_err(), "the map is full");
        // Once their buckets are full again, the addresses are forgotten.
        r.admit(ip(5), t + 3600).unwrap();
        assert_eq!(r.state().per_ip.len(), 1);
    }

    #[test]
    fn identifiers_are_charged_per_address_and_day_and_given_back_unless_kept() {
        let r = Registrations::new(limits());
        let t = 10 * DAY + 100;
        r.reserve(ip(1), 60, t).unwrap().keep();
        assert_eq!(r.identifiers_left(ip(1), t), 40);
        let Err(ApiError::TooManyRequests {
            retry_after_s,
            reason: LimitReason::DailyQuota,
        }) = r.reserve(ip(1), 41, t)
        else {
            panic!("over the day's budget");
        };
        assert_eq!(retry_after_s, u64::try_from(DAY - 100).unwrap());
        drop(r.reserve(ip(1), 40, t).unwrap());
        assert_eq!(r.identifiers_left(ip(1), t), 40, "dropped: given back");
        assert_eq!(r.identifiers_left(ip(2), t), 100);
        // The server's budget caps every address together.
        r.reserve(ip(2), 100, t).unwrap().keep();
        r.reserve(ip(3), 90, t).unwrap().keep();
        assert_eq!(r.identifiers_left(ip(4), t), 0);
        assert!(r.reserve(ip(4), 1, t).is_err());
        assert_eq!(r.identifiers_left(ip(1), t + DAY), 100, "a new day");
        assert_eq!(r.identifiers_left(ip(1), t), 100, "days only move forward");
    }
}
