//! The Redis URL of `--bus`, which may carry a password: it is shown only with the password
//! replaced (`redis://user:***@host`), in `Debug`, `Display`, logs and errors alike.

use std::fmt;

/// `redis://[user[:password]@]host[:port][/db]`, `rediss://…` (TLS), or `redis+unix:///path`.
#[derive(Clone, PartialEq, Eq)]
pub struct BusUrl {
    raw: String,
    redacted: String,
}

impl BusUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let redacted = redact(raw);
        let scheme = raw.split_once("://").map(|(s, _)| s).unwrap_or("");
        if !matches!(scheme, "redis" | "rediss" | "redis+unix" | "unix") {
            return Err(format!(
                "--bus must be a redis://, rediss:// or redis+unix:// URL, got {redacted:?}"
            ));
        }
        // redis-rs' own parser decides what it accepts; its error never includes the URL.
        redis::Client::open(raw)
            .map_err(|e| format!("--bus {redacted}: {}", e.detail().unwrap_or("invalid URL")))?;
        Ok(Self {
            raw: raw.to_owned(),
            redacted,
        })
    }

    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The password, if the URL has one (to scrub it from any text that might echo it): after
    /// `user:` in the authority, or `?pass=` (how a `redis+unix://` URL carries it).
    pub fn password(&self) -> Option<&str> {
        let (_, rest) = self.raw.split_once("://")?;
        let authority = rest.split('/').next()?;
        let in_authority = authority
            .rsplit_once('@')
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
            .map(|(_, p)| p);
        in_authority
            .or_else(|| query_pass(rest).map(|(start, end)| &rest[start..end]))
            .filter(|p| !p.is_empty())
    }

    /// `text` with the password replaced, should it appear in it.
    pub fn scrub(&self, text: &str) -> String {
        match self.password() {
            Some(p) => text.replace(p, "***"),
            None => text.to_owned(),
        }
    }
}

/// Where the value of a `pass=` query parameter is in `rest` (the URL after `scheme://`).
fn query_pass(rest: &str) -> Option<(usize, usize)> {
    let query_start = rest.find('?')? + 1;
    let mut offset = query_start;
    for param in rest[query_start..].split('&') {
        if let Some(value) = param.strip_prefix("pass=") {
            let start = offset + "pass=".len();
            return Some((start, start + value.len()));
        }
        offset += param.len() + 1;
    }
    None
}

/// The URL with the password (what follows `user:` before `@`, or `?pass=`) replaced by `***`.
fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return "<not a URL>".to_owned();
    };
    let owned;
    let rest = match query_pass(rest) {
        Some((start, end)) => {
            owned = format!("{}***{}", &rest[..start], &rest[end..]);
            owned.as_str()
        }
        None => rest,
    };
    let raw = &format!("{scheme}://{rest}");
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => raw.clone(),
    }
}

/// A PEM file of trusted certificate authorities for `rediss://`, read when the config is parsed
/// (so a wrong path stops the start with a clear error, not the first connection).
#[derive(Clone, PartialEq, Eq)]
pub struct CaFile {
    path: String,
    pem: Vec<u8>,
}

impl CaFile {
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }
}

impl std::str::FromStr for CaFile {
    type Err = String;
    fn from_str(path: &str) -> Result<Self, String> {
        let pem = std::fs::read(path).map_err(|e| format!("--bus-ca-file {path}: {e}"))?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(format!("--bus-ca-file {path}: no PEM certificate in it"));
        }
        Ok(Self {
            path: path.to_owned(),
            pem,
        })
    }
}

impl fmt::Debug for CaFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaFile({})", self.path)
    }
}

impl BusUrl {
    /// Whether the URL asks for TLS.
    pub fn is_tls(&self) -> bool {
        self.raw.starts_with("rediss://")
    }
}

impl fmt::Display for BusUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for BusUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BusUrl({})", self.redacted)
    }
}

impl std::str::FromStr for BusUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_shown() {
        let url = BusUrl::parse("redis://app:s3cr%3Et@127.0.0.1:6379/2").unwrap();
        for shown in [url.to_string(), format!("{url:?}")] {
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(
                shown.contains("redis://app:***@127.0.0.1:6379/2"),
                "{shown}"
            );
        }
        assert_eq!(url.password(), Some("s3cr%3Et"));
        assert_eq!(url.scrub("auth s3cr%3Et failed"), "auth *** failed");
        let only_password = BusUrl::parse("rediss://:pw@h:1").unwrap();
        assert_eq!(only_password.to_string(), "rediss://:***@h:1");
        assert_eq!(BusUrl::parse("redis://h").unwrap().to_string(), "redis://h");
        let unix = BusUrl::parse("redis+unix:///run/r.sock?db=1&pass=hunter2&x=y").unwrap();
        assert_eq!(unix.password(), Some("hunter2"));
        assert_eq!(
            unix.to_string(),
            "redis+unix:///run/r.sock?db=1&pass=***&x=y"
        );
    }

    #[test]
    fn other_schemes_are_refused_without_echoing_a_password() {
        let err = BusUrl::parse("http://u:hunter2@h").unwrap_err();
        assert!(
            err.contains("redis://") && !err.contains("hunter2"),
            "{err}"
        );
        assert!(BusUrl::parse("nonsense").is_err());
    }
}
