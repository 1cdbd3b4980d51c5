//! SSRF guard: a webhook URL may only reach public addresses, checked at creation and at every
//! send; the vetted addresses are then pinned into the request so DNS rebinding cannot slip past.

use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What the guard allows beyond public https.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    pub allow_http: bool,
    pub allow_private: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("`{0}` is not an absolute URL")]
    NotAUrl(String),
    #[error("the URL must use https (http is allowed only with SUBREG_WEBHOOK_ALLOW_HTTP=1)")]
    Scheme,
    #[error("the URL must not carry a user name or password")]
    Credentials,
    #[error("the URL has no host")]
    NoHost,
    #[error("the host `{0}` does not resolve")]
    Unresolvable(String),
    #[error("the host resolves to {addr}, a {kind} address that webhooks may not reach")]
    Forbidden { addr: IpAddr, kind: &'static str },
}

/// A URL that passed the guard, with the addresses its host resolved to.
#[derive(Debug, Clone)]
pub struct Vetted {
    pub url: Url,
    /// The host name to pin, when the URL names a host rather than an address.
    pub host: Option<String>,
    pub addrs: Vec<SocketAddr>,
}

/// Checks the form of a URL without resolving it: scheme, no credentials, a host.
pub fn parse(text: &str, policy: Policy) -> Result<Url, Refusal> {
    let url = Url::parse(text).map_err(|_| Refusal::NotAUrl(text.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        _ => return Err(Refusal::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Credentials);
    }
    if url.host().is_none() {
        return Err(Refusal::NoHost);
    }
    Ok(url)
}

/// Parses, resolves and checks every address the host resolves to.
pub async fn vet(text: &str, policy: Policy) -> Result<Vetted, Refusal> {
    let url = parse(text, policy)?;
    let port = url.port_or_known_default().unwrap_or(443);
    let host_text = url.host_str().ok_or(Refusal::NoHost)?;
    let literal = host_text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    let (host, addrs) = match literal {
        Some(ip) => (None, vec![SocketAddr::new(ip, port)]),
        None => {
            let name = host_text.to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|_| Refusal::Unresolvable(name.clone()))?
                .collect();
            if addrs.is_empty() {
                return Err(Refusal::Unresolvable(name));
            }
            (Some(name), addrs)
        }
    };
    if !policy.allow_private {
        for addr in &addrs {
            if let Some(kind) = forbidden(addr.ip()) {
                return Err(Refusal::Forbidden {
                    addr: addr.ip(),
                    kind,
                });
            }
        }
    }
    Ok(Vetted { url, host, addrs })
}

/// Why an address may not be reached by a webhook, or `None` for a public unicast address.
/// IPv4-mapped and IPv4-compatible IPv6 addresses are unwrapped first.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let [a, b, c, d, e, f, g, h] = v6.segments();
    // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052) reaches the embedded IPv4 address.
    // (The deprecated IPv4-compatible ::a.b.c.d is refused as reserved in `forbidden_v6`.)
    if [a, b, c, d, e, f] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(v4_from(g, h));
    }
    None
}

/// The IPv4 address held in two IPv6 segments.
fn v4_from(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: [([u8; 4], u32, &str); 17] = [
        ([0, 0, 0, 0], 8, "reserved (this network)"),
        ([10, 0, 0, 0], 8, "private"),
        ([100, 64, 0, 0], 10, "carrier-grade NAT"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local (cloud metadata)"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 0, 0, 0], 24, "IETF protocol assignment"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4 relay"),
        ([192, 168, 0, 0], 16, "private"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([100, 100, 100, 200], 32, "cloud metadata"),
    ];
    RANGES
        .iter()
        .find(|(net, bits, _)| in_v4(ip, *net, *bits))
        .map(|(_, _, kind)| *kind)
}

/// IPv6 by the IANA special-purpose address registry: what is not globally reachable is refused.
fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let [a, b, c, ..] = ip.segments();
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if a & 0xfe00 == 0xfc00 {
        Some("unique local (private)")
    } else if a & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if a & 0xffc0 == 0xfec0 {
        Some("site-local (deprecated private)")
    } else if a & 0xff00 == 0xff00 {
        Some("multicast")
    } else if (a == 0x2001 && b == 0x0db8) || (a == 0x3fff && b & 0xf000 == 0) {
        Some("documentation")
    } else if a == 0x2001 && b == 0 {
        // 2001::/32 (RFC 4380) embeds an obfuscated client address: a tunnel, not a receiver.
        Some("Teredo")
    } else if a == 0x2001 && b == 0x0002 && c == 0 {
        Some("benchmarking")
    } else if a == 0x2001 && b & 0xfff0 == 0x0010 {
        Some("ORCHID")
    } else if a == 0x2001 && b & 0xfff0 == 0x0020 {
        Some("ORCHIDv2 (an identifier, not a locator)")
    } else if a == 0x2001 && b < 0x0200 {
        // The rest of 2001::/23: anycast services and tunnels, no webhook receiver.
        Some("IETF protocol assignment")
    } else if a == 0x2002 {
        // 6to4 embeds an IPv4 address: judge that one.
        forbidden_v4(v4_from(b, c))
    } else if a & 0xe000 != 0x2000 {
        // Outside 2000::/3, the global unicast space: among others ::/96 (deprecated
        // IPv4-compatible), 64:ff9b:1::/48 (local-use NAT64), 100::/64 (discard-only),
        // 5f00::/16 (SRv6 SIDs).
        Some("reserved")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address literal")
    }

    #[test]
    fn private_loopback_and_metadata_addresses_are_refused() {
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "198.18.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.10",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "::127.0.0.1",
        ] {
            assert!(forbidden(ip(bad)).is_some(), "{bad} must be refused");
        }
    }

    #[test]
    fn special_purpose_ipv6_ranges_are_refused() {
        for (bad, kind) in [
            ("2001::1", "Teredo"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
            ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "Teredo"),
            ("2001:10::1", "ORCHID"),
            ("2001:1f:ffff::1", "ORCHID"),
            ("2001:20::1", "ORCHIDv2 (an identifier, not a locator)"),
            ("2001:2f:ffff::1", "ORCHIDv2 (an identifier, not a locator)"),
            ("2001:2::1", "benchmarking"),
            ("2001:2:0:ffff::1", "benchmarking"),
            ("2001:1::1", "IETF protocol assignment"),
            ("2001:1ff:ffff::1", "IETF protocol assignment"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("3fff:fff:ffff::1", "documentation"),
            ("100::1", "reserved"),
            ("64:ff9b:1::a00:1", "reserved"),
            ("64:ff9b:1::808:808", "reserved"),
            ("5f00::1", "reserved"),
            ("::8.8.8.8", "reserved"),
            ("::ffff:0:0", "reserved (this network)"),
        ] {
            assert_eq!(forbidden(ip(bad)), Some(kind), "{bad}");
        }
    }

    #[test]
    fn nat64_is_judged_by_the_embedded_ipv4_address() {
        assert_eq!(forbidden(ip("64:ff9b::a00:1")), Some("private"));
        assert_eq!(forbidden(ip("64:ff9b::10.0.0.1")), Some("private"));
        assert_eq!(forbidden(ip("64:ff9b::192.168.1.1")), Some("private"));
        assert_eq!(
            forbidden(ip("64:ff9b::169.254.169.254")),
            Some("link-local (cloud metadata)")
        );
        assert_eq!(forbidden(ip("64:ff9b::127.0.0.1")), Some("loopback"));
        assert_eq!(forbidden(ip("64:ff9b::8.8.8.8")), None);
        assert_eq!(forbidden(ip("2002:0a00:0001::")), Some("private"));
    }

    #[test]
    fn public_addresses_pass() {
        for good in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "2001:200::1",
            "2001:4860:4860::8888",
            "2620:4f:8000::1",
            "3fff:1000::1",
        ] {
            assert_eq!(forbidden(ip(good)), None, "{good} is public");
        }
    }

    #[test]
    fn mapped_addresses_are_unwrapped_first() {
        assert_eq!(forbidden(ip("::ffff:127.0.0.1")), Some("loopback"));
        assert_eq!(
            forbidden(ip("::ffff:169.254.169.254")),
            forbidden(ip("169.254.169.254"))
        );
        assert_eq!(forbidden(ip("::ffff:8.8.8.8")), None);
    }

    #[test]
    fn url_form_is_checked_without_resolving() {
        let strict = Policy::default();
        assert_eq!(parse("http://example.com/", strict), Err(Refusal::Scheme));
        assert_eq!(parse("ftp://example.com/", strict), Err(Refusal::Scheme));
        assert_eq!(
            parse("https://u:p@example.com/", strict),
            Err(Refusal::Credentials)
        );
        assert!(parse("not a url", strict).is_err());
        assert!(parse("https://example.com/hook", strict).is_ok());
        let lax = Policy {
            allow_http: true,
            allow_private: false,
        };
        assert!(parse("http://example.com/hook", lax).is_ok());
    }
}
