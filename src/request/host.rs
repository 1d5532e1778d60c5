//! Splitting a `Host` value into host and port.

/// Splits `host[:port]` (IPv6 in brackets) into the host and the port. `None` when the value
/// is not a host: empty, a bad port, an unclosed bracket, or characters a host cannot hold.
///
/// ```
/// use tollgate::request::split_host_port;
/// assert_eq!(split_host_port("example.com:8080"), Some(("example.com", Some(8080))));
/// assert_eq!(split_host_port("[::1]"), Some(("[::1]", None)));
/// assert_eq!(split_host_port("a b"), None);
/// ```
pub fn split_host_port(value: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if value.starts_with('[') {
        let end = value.find(']')?;
        let (host, rest) = value.split_at(end + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match value.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        }
    };
    let valid_host = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~[]:!$&'()*+,;=%".contains(&b));
    if !valid_host {
        return None;
    }
    let port = match port {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
        None => None,
    };
    Some((host, port))
}
