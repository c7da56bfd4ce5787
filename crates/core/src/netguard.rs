//! Which IP addresses an outbound call (webhooks, HTTP enrichment providers) may reach
//! without the operator's explicit consent: only globally routable unicast ones.
//!
//! This is the one classification both `leadrouter-notify` and `leadrouter-enrich` use;
//! their HTTP clients call it from a DNS resolver (so a name cannot resolve to a public
//! address for a check and a private one for the connection) and on every URL whose host
//! is an IP literal, including each redirect hop. Pure: no I/O, no clock.
//!
//! IPv6 forms that carry an IPv4 address (mapped, translated, compatible, NAT64, 6to4)
//! are judged by that IPv4 address, or refused outright where the embedding hides which
//! host is reached (Teredo, NAT64 local-use prefixes).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Is `ip` a globally routable unicast address? Loopback, private (RFC 1918, ULA),
/// link-local, CGNAT, documentation, benchmarking, multicast, reserved, broadcast and
/// unspecified addresses are not, nor are IPv6 forms that embed such an IPv4 address.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// The first non-public address among `addrs`, if any.
pub fn first_private(addrs: &[SocketAddr]) -> Option<IpAddr> {
    addrs.iter().map(|a| a.ip()).find(|ip| !is_public_ip(*ip))
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network" 0/8
        || a == 10                             // RFC 1918
        || a == 127                            // loopback
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254)              // link-local (cloud metadata)
        || (a == 172 && (16..32).contains(&b)) // RFC 1918
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments 192.0.0/24
        || (a == 192 && b == 0 && c == 2)      // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay anycast
        || (a == 192 && b == 168)              // RFC 1918
        || (a == 198 && (b == 18 || b == 19))  // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100)   // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)    // TEST-NET-3
        || a >= 224) // multicast 224/4, reserved 240/4, broadcast
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    Ipv4Addr::from(((hi as u32) << 16) | lo as u32)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // ::ffff:a.b.c.d (IPv4-mapped) and ::ffff:0:a.b.c.d (IPv4-translated, RFC 2765):
    // sockets and translators deliver both to the IPv4 host.
    if s[..4] == [0, 0, 0, 0] && ((s[4] == 0 && s[5] == 0xffff) || (s[4] == 0xffff && s[5] == 0)) {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): the gateway connects to the
    // embedded IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 2002:V4ADDR::/48: the relay reaches the embedded IPv4 address.
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    !(s[..6] == [0, 0, 0, 0, 0, 0]              // ::, ::1, IPv4-compatible ::a.b.c.d
        || (s[0] == 0x64 && s[1] == 0xff9b)     // NAT64 local-use 64:ff9b:1::/48 (RFC 8215) and the rest of 64:ff9b::/32
        || (s[0] & 0xfe00) == 0xfc00            // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80            // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0            // site-local fec0::/10 (deprecated)
        || (s[0] & 0xff00) == 0xff00            // multicast ff00::/8
        || (s[0] == 0x2001 && s[1] == 0x0db8)   // documentation 2001:db8::/32
        || (s[0] & 0xfff0) == 0x3ff0            // documentation 3fff::/20 (RFC 9637)
        || (s[0] == 0x2001 && s[1] < 0x0200)    // IETF protocol assignments 2001::/23, Teredo 2001::/32 among them (hides an IPv4 address)
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
        || (s[0] & 0xe000) != 0x2000) // outside global unicast 2000::/3
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every address here must be refused: each names the range it stands for.
    const NOT_PUBLIC: &[(&str, &str)] = &[
        ("0.0.0.0", "unspecified / this network"),
        ("0.1.2.3", "this network 0/8"),
        ("10.1.2.3", "RFC 1918 10/8"),
        ("100.64.0.1", "CGNAT 100.64/10"),
        ("100.127.255.254", "CGNAT 100.64/10, top"),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback 127/8"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("172.16.0.1", "RFC 1918 172.16/12"),
        ("172.31.255.254", "RFC 1918 172.16/12, top"),
        ("192.0.0.8", "IETF protocol assignments 192.0.0/24"),
        ("192.0.2.1", "TEST-NET-1"),
        ("192.168.1.1", "RFC 1918 192.168/16"),
        ("198.18.0.1", "benchmarking 198.18/15"),
        ("198.19.255.254", "benchmarking 198.18/15, top"),
        ("198.51.100.7", "TEST-NET-2"),
        ("203.0.113.9", "TEST-NET-3"),
        ("224.0.0.1", "multicast 224/4"),
        ("239.255.255.250", "multicast 224/4, top"),
        ("240.0.0.1", "reserved 240/4"),
        ("255.255.255.255", "broadcast"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("::127.0.0.1", "IPv4-compatible loopback"),
        ("::8.8.8.8", "IPv4-compatible (deprecated)"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:10.0.0.1", "IPv4-mapped RFC 1918"),
        ("::ffff:169.254.169.254", "IPv4-mapped metadata"),
        (
            "::ffff:0:127.0.0.1",
            "IPv4-translated loopback (the probe's hole)",
        ),
        ("::ffff:0:10.0.0.1", "IPv4-translated RFC 1918"),
        ("::ffff:0:169.254.169.254", "IPv4-translated metadata"),
        ("64:ff9b::7f00:1", "NAT64 well-known prefix, loopback"),
        ("64:ff9b::a00:1", "NAT64 well-known prefix, RFC 1918"),
        ("64:ff9b:1::8.8.8.8", "NAT64 local-use 64:ff9b:1::/48"),
        ("64:ff9b:1:abcd::1", "NAT64 local-use 64:ff9b:1::/48"),
        ("2002:7f00:1::", "6to4 with loopback"),
        ("2002:a9fe:a9fe::1", "6to4 with metadata"),
        ("2002:c0a8:101::1", "6to4 with 192.168.1.1"),
        ("2001::1", "Teredo 2001::/32"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
        ("2001:2::1", "benchmarking 2001:2::/48"),
        ("2001:10::1", "ORCHID"),
        ("fe80::1", "link-local"),
        ("febf::1", "link-local fe80::/10, top"),
        ("fec0::1", "site-local (deprecated)"),
        ("fc00::1", "unique local fc00::/7"),
        ("fd12:3456::1", "unique local fc00::/7"),
        ("2001:db8::1", "documentation 2001:db8::/32"),
        ("3fff::1", "documentation 3fff::/20"),
        ("ff02::1", "multicast"),
        ("ff05::1:3", "multicast"),
        ("100::1", "discard-only 100::/64"),
        ("4000::1", "outside global unicast"),
    ];

    const PUBLIC: &[&str] = &[
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        "100.63.255.255",
        "100.128.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.0.1.1",
        "198.20.0.1",
        "223.255.255.254",
        "2606:4700::6810:84e5",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",
        "::ffff:0:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ];

    #[test]
    fn refuses_every_special_range() {
        for (addr, why) in NOT_PUBLIC {
            let ip: IpAddr = addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}"));
            assert!(!is_public_ip(ip), "{addr} ({why}) must not count as public");
        }
    }

    #[test]
    fn accepts_global_unicast() {
        for addr in PUBLIC {
            let ip: IpAddr = addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}"));
            assert!(is_public_ip(ip), "{addr} must count as public");
        }
    }

    #[test]
    fn first_private_names_the_offender() {
        let addrs: Vec<SocketAddr> = ["8.8.8.8:443", "[::ffff:0:7f00:1]:443", "10.0.0.1:443"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(
            first_private(&addrs),
            Some("::ffff:0:7f00:1".parse().unwrap())
        );
        assert_eq!(first_private(&addrs[..1]), None);
    }
}
