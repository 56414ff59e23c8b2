//! Response security headers, CORS, and who may call the inject API.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use leptos::config::{Env, LeptosOptions};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::ApiError;

/// The Content-Security-Policy. Leptos' hydration bootstrap is an inline `<script>` that loads
/// the wasm, hence `'unsafe-inline'` and `'wasm-unsafe-eval'`. In development, cargo-leptos'
/// live-reload websocket is allowed too.
pub fn content_security_policy(leptos: &LeptosOptions) -> String {
    let mut connect = String::from("'self'");
    if leptos.env == Env::DEV {
        let port = leptos.reload_external_port.unwrap_or(leptos.reload_port);
        connect.push_str(&format!(" ws://127.0.0.1:{port} ws://localhost:{port}"));
    }
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'unsafe-inline'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src {connect}; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Layers that add the security headers to every response that lacks them.
pub fn header_layers(leptos: &LeptosOptions) -> [SetResponseHeaderLayer<HeaderValue>; 4] {
    let csp = HeaderValue::from_str(&content_security_policy(leptos)).expect("CSP is ASCII");
    [
        SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ),
        SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, csp),
    ]
}

/// CORS for the configured origins, or `None` (no CORS headers: same-origin only).
pub fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() {
        return Ok(None);
    }
    let values = origins
        .iter()
        .map(|o| HeaderValue::from_str(o.trim()).map_err(|_| format!("invalid CORS origin {o:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(values))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                HeaderName::from_static("last-event-id"),
            ]),
    ))
}

/// Who may inject device events.
#[derive(Debug, Clone)]
pub enum AdminAuth {
    /// Bound to loopback: only local processes can reach the server at all.
    Open,
    /// Bound elsewhere with `TABRELAY_ADMIN_TOKEN`: `Authorization: Bearer <token>` required.
    Token(String),
    /// Bound elsewhere without a token: the inject API is off.
    Disabled,
}

impl AdminAuth {
    pub fn for_bind(addr: std::net::SocketAddr, token: Option<&str>) -> Self {
        match token.filter(|t| !t.is_empty()) {
            _ if addr.ip().is_loopback() => Self::Open,
            Some(t) => Self::Token(t.to_owned()),
            None => Self::Disabled,
        }
    }

    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match self {
            Self::Open => Ok(()),
            Self::Disabled => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "the inject API is disabled on a non-loopback address without TABRELAY_ADMIN_TOKEN",
            )),
            Self::Token(expected) => {
                let given = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                match given {
                    Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => {
                        Ok(())
                    }
                    _ => Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "a valid bearer token is required",
                    )),
                }
            }
        }
    }
}

/// Compares without an early exit, so response timing does not leak the token's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_auth_by_bind_address() {
        let lo: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
        let any: std::net::SocketAddr = "0.0.0.0:1".parse().unwrap();
        let empty = HeaderMap::new();
        assert!(AdminAuth::for_bind(lo, None).authorize(&empty).is_ok());
        assert_eq!(
            AdminAuth::for_bind(any, None)
                .authorize(&empty)
                .unwrap_err()
                .status(),
            StatusCode::FORBIDDEN
        );
        let auth = AdminAuth::for_bind(any, Some("s3cret"));
        assert_eq!(
            auth.authorize(&empty).unwrap_err().status(),
            StatusCode::UNAUTHORIZED
        );
        let mut ok = HeaderMap::new();
        ok.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(auth.authorize(&ok).is_ok());
        let mut wrong = HeaderMap::new();
        wrong.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cre"),
        );
        assert!(auth.authorize(&wrong).is_err());
    }

    #[test]
    fn csp_allows_wasm_and_forbids_framing() {
        let opts = LeptosOptions::builder()
            .output_name("tabrelay")
            .env(Env::PROD)
            .build();
        let csp = content_security_policy(&opts);
        assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("ws://"));
    }
}
