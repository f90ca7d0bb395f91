//! Where a stream may deliver. A tenant admin chooses the URL, so it is hostile input: in the
//! deployed service only `https` is allowed, and no address that is not public (loopback,
//! private, link-local, shared, documentation, multicast, reserved). The URL is checked when the
//! destination is saved ([`check_url`]); every address the name resolves to is checked again when
//! the delivery connects ([`check_ip`]), by the resolver the HTTP client connects with, so a
//! name that resolves elsewhere later (DNS rebinding) cannot reach a refused address. Redirects
//! are not followed.
//!
//! The operator may allow plain `http` and non-public addresses (on-prem, tests) with
//! [`AddressPolicy`]. The cloud instance-metadata addresses stay refused even then: no
//! legitimate SIEM lives there, and a request to them can leak the service's own credentials.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// What the operator allows beyond public `https` (`AUDITLOG_STREAM_ALLOW_HTTP`,
/// `AUDITLOG_STREAM_ALLOW_PRIVATE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_http: bool,
    pub allow_private: bool,
}

/// The instance-metadata services of AWS (IPv4, IPv6, ECS task credentials), GCP and Azure.
const METADATA: [IpAddr; 3] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)),
];

/// Why an address is not public, or `None` for a public one.
fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "a `this network` address",
        (10, _, _) | (192, 168, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        (127, _, _) => "a loopback address",
        (169, 254, _) => "a link-local address",
        (192, 0, 0) => "an IETF protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved address",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return non_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    Some(match segments[0] {
        _ if ip.is_unspecified() => "the unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        0xfc00..=0xfdff => "a unique local (private) address",
        0xfe80..=0xfebf => "a link-local address",
        0xff00..=0xffff => "a multicast address",
        0x2001 if segments[1] == 0x0db8 => "a documentation address",
        0x0100 if segments[1..4] == [0, 0, 0] => "a discard address",
        _ => return None,
    })
}

/// Why a destination address or URL was refused; the text is the reason shown beside it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("{0} is a cloud instance-metadata address, which no destination may use")]
    Metadata(IpAddr),
    #[error(
        "{ip} is {why}: destinations must be public (the operator can allow non-public \
         addresses with AUDITLOG_STREAM_ALLOW_PRIVATE=true, for on-prem receivers)"
    )]
    NonPublic { ip: IpAddr, why: &'static str },
    #[error("is not a URL: {0}")]
    NotUrl(url::ParseError),
    #[error(
        "must use https (the operator can allow http with \
         AUDITLOG_STREAM_ALLOW_HTTP=true, for on-prem receivers)"
    )]
    PlainHttp,
    #[error("must use https, not `{0}`")]
    Scheme(String),
    #[error("may hold no user name or password: give credentials as a secret reference")]
    Credentials,
    #[error("may hold no fragment (`#...`)")]
    Fragment,
    #[error("is longer than 2048 characters")]
    TooLong,
    #[error("has no host")]
    NoHost,
    #[error("`{0}` is this machine: destinations must be public")]
    Localhost(String),
}

/// Whether the delivery may connect to `ip`; the reason when it may not.
pub fn check_ip(ip: IpAddr, policy: AddressPolicy) -> Result<(), AddressError> {
    if METADATA.contains(&ip) {
        return Err(AddressError::Metadata(ip));
    }
    let why = match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    };
    match why {
        Some(why) if !policy.allow_private => Err(AddressError::NonPublic { ip, why }),
        _ => Ok(()),
    }
}

/// A destination URL, checked: `https` (or `http` if allowed), a host, no user name or
/// password (credentials are secrets, held apart as references), no fragment, and, when the
/// host is an address, an allowed one. A host name is checked again at every connection.
pub fn check_url(text: &str, policy: AddressPolicy) -> Result<Url, AddressError> {
    let url = Url::parse(text).map_err(AddressError::NotUrl)?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => {
            return Err(AddressError::PlainHttp);
        }
        other => return Err(AddressError::Scheme(other.to_string())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AddressError::Credentials);
    }
    if url.fragment().is_some() {
        return Err(AddressError::Fragment);
    }
    if text.len() > 2048 {
        return Err(AddressError::TooLong);
    }
    match url.host() {
        None => return Err(AddressError::NoHost),
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), policy)?,
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), policy)?,
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            if !policy.allow_private && (name == "localhost" || name.ends_with(".localhost")) {
                return Err(AddressError::Localhost(name.to_string()));
            }
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy {
        allow_http: false,
        allow_private: false,
    };
    const ON_PREM: AddressPolicy = AddressPolicy {
        allow_http: true,
        allow_private: true,
    };

    #[test]
    fn only_public_addresses_by_default() {
        for ip in ["93.184.215.14", "2606:4700::1111", "1.1.1.1"] {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert_eq!(check_ip(ip, STRICT), Ok(()), "{ip}");
        }
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.31.255.255", "private"),
            ("192.168.0.10", "private"),
            ("100.100.1.1", "shared"),
            ("169.254.1.1", "link-local"),
            ("0.0.0.0", "this network"),
            ("203.0.113.5", "documentation"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd12::1", "unique local"),
            ("fe80::1", "link-local"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::7f00:1", "loopback"),
            ("2001:db8::1", "documentation"),
        ] {
            let parsed: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            let refused = check_ip(parsed, STRICT)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(refused.contains(why), "{ip}: {refused}");
            assert_eq!(check_ip(parsed, ON_PREM), Ok(()), "{ip} allowed on-prem");
        }
    }

    #[test]
    fn instance_metadata_is_refused_even_on_prem() {
        for ip in ["169.254.169.254", "169.254.170.2", "fd00:ec2::254"] {
            let parsed: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            let refused = check_ip(parsed, ON_PREM)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(refused.contains("instance-metadata"), "{ip}: {refused}");
        }
        let refused = check_url("http://169.254.169.254/latest/meta-data/", ON_PREM);
        assert!(refused.is_err());
    }

    #[test]
    fn urls_are_checked_when_saved() {
        assert!(check_url("https://siem.example.com:8088/services/collector", STRICT).is_ok());
        for (url, why) in [
            ("http://siem.example.com/", "must use https"),
            ("ftp://siem.example.com/", "not `ftp`"),
            (
                "https://user:pw@siem.example.com/",
                "no user name or password",
            ),
            ("https://siem.example.com/#x", "no fragment"),
            ("https://127.0.0.1/", "loopback"),
            ("https://[::1]:9200/", "loopback"),
            ("https://localhost:9200/", "this machine"),
            ("https://api.localhost/", "this machine"),
            ("https://10.0.0.8/hook", "private"),
            ("not a url", "is not a URL"),
        ] {
            let refused = check_url(url, STRICT)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(refused.contains(why), "{url}: {refused}");
        }
        assert!(check_url("http://127.0.0.1:8088/", ON_PREM).is_ok());
        assert!(check_url("http://localhost:8088/", ON_PREM).is_ok());
    }
}
