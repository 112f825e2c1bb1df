//! Which address a request comes from, for the limits of open registration: the TCP peer, or,
//! when the peer is a proxy the operator trusts, the address that proxy saw (`X-Forwarded-For`).
//!
//! `X-Forwarded-For` is a list every proxy on the way appends its peer to, so only its right end
//! is trustworthy: everything left of the first hop we do not trust was written by someone we
//! do not trust (possibly the client itself, to escape its limit). The header is therefore read
//! from the right, skipping trusted proxies, and the first untrusted address is the client's;
//! from a peer that is not a trusted proxy it is ignored altogether.
//!
//! Addresses are then grouped into the unit one subscriber controls ([`limit_key`]): an IPv4
//! address, or an IPv6 /64 — a home or phone gets a whole /64 from its provider and picks
//! addresses in it at will, so limiting single IPv6 addresses would limit nothing.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address block, `ADDR/LEN` (`10.0.0.0/8`, `2001:db8::/32`), or one address (`ADDR`: a /32
/// or /128). Host bits below the prefix are ignored (`10.1.2.3/8` is `10.0.0.0/8`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `ip` is in the block. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a
    /// dual-stack listener reports for an IPv4 peer) is taken as the IPv4 address it maps.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask_v4(ip, self.prefix) == mask_v4(net, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask_v6(ip, self.prefix) == mask_v6(net, self.prefix)
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an address or an ADDR/LEN block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl fmt::Debug for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn mask_v4(ip: Ipv4Addr, prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::from(ip) & (u32::MAX << (32 - u32::from(prefix)))
    }
}

fn mask_v6(ip: Ipv6Addr, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::from(ip) & (u128::MAX << (128 - u32::from(prefix)))
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is; any other address as it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The client's address: `peer`, or — when `peer` is in `trusted` — the first address of
/// `X-Forwarded-For` (its values in order, each a comma-separated list) that is not, read from
/// the right. An entry that is not an address ends the walk at the last trusted hop: what stands
/// left of it cannot be told apart from what a client wrote. A list of trusted hops only (a
/// request from inside the proxies' own network) gives its leftmost hop.
pub(crate) fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = canonical(peer);
    if !is_trusted(client) {
        return client;
    }
    for value in forwarded_for.rev() {
        for entry in value.rsplit(',') {
            let Ok(hop) = entry.trim().parse::<IpAddr>() else {
                return client;
            };
            client = canonical(hop);
            if !is_trusted(client) {
                return client;
            }
        }
    }
    client
}

/// What the limits count per: an IPv4 address, or the /64 an IPv6 address is in (one
/// subscriber's allocation; see the module's comment).
pub(crate) fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(mask_v6(v6, 64))),
        v4 @ IpAddr::V4(_) => v4,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let net: IpNet = "10.1.2.3/8".parse().unwrap();
        assert!(net.contains(ip("10.200.0.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.9.9.9")), "IPv4-mapped");
        assert!(!net.contains(ip("2001:db8::1")));
        let one: IpNet = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
        assert!("::/0".parse::<IpNet>().unwrap().contains(ip("2001:db8::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "example.org",
            "10.0.0.0/-1",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_peer_and_from_the_right() {
        let proxies = nets(&["10.0.0.0/8"]);
        let xff = |values: &[&'static str], peer: &str| {
            client_ip(ip(peer), values.iter().copied(), &proxies)
        };
        // An untrusted peer: the header is the client's own text.
        assert_eq!(xff(&["198.51.100.1"], "203.0.113.9"), ip("203.0.113.9"));
        // Through the proxy: the address it appended, not what the client wrote before it.
        assert_eq!(
            xff(&["1.2.3.4, 198.51.100.1"], "10.0.0.2"),
            ip("198.51.100.1")
        );
        // Two proxies, and the header split over two lines.
        assert_eq!(
            xff(&["1.2.3.4, 198.51.100.1", "10.0.0.3"], "10.0.0.2"),
            ip("198.51.100.1")
        );
        // Garbage right of the first untrusted hop: the last trusted hop counts.
        assert_eq!(xff(&["198.51.100.1, nonsense"], "10.0.0.2"), ip("10.0.0.2"));
        // No header: the proxy itself.
        assert_eq!(xff(&[], "10.0.0.2"), ip("10.0.0.2"));
        // Only trusted hops: the leftmost.
        assert_eq!(xff(&["10.0.0.7, 10.0.0.3"], "10.0.0.2"), ip("10.0.0.7"));
        // IPv6 in the header, and a mapped peer.
        assert_eq!(xff(&["2001:db8::1"], "::ffff:10.0.0.2"), ip("2001:db8::1"));
    }

    #[test]
    fn ipv6_counts_per_64_and_ipv4_per_address() {
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa::1")),
            limit_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:3::1"))
        );
        assert_ne!(limit_key(ip("192.0.2.1")), limit_key(ip("192.0.2.2")));
        assert_eq!(limit_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
