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
    let s = v6.segments();
    // Deprecated IPv4-compatible ::a.b.c.d (but not :: and ::1, judged as IPv6).
    if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        return Some(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    // NAT64 well-known prefix 64:ff9b::/96 reaches the embedded IPv4 address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    None
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

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if s[0] & 0xfe00 == 0xfc00 {
        Some("unique local (private)")
    } else if s[0] & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if s[0] & 0xffc0 == 0xfec0 {
        Some("site-local (deprecated private)")
    } else if s[0] & 0xff00 == 0xff00 {
        Some("multicast")
    } else if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] & 0xf000 == 0) {
        Some("documentation")
    } else if s[0] == 0x0100 && s[1..4] == [0, 0, 0] {
        Some("discard-only")
    } else if s[0] == 0x2002 {
        // 6to4 embeds an IPv4 address: judge that one.
        forbidden_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ))
    } else if s[0] & 0xe000 != 0x2000 {
        // Outside 2000::/3, the global unicast space.
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
    fn public_addresses_pass() {
        for good in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
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
