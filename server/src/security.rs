//! Response security headers, CORS, and who may call the inject API.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use leptos::config::{Env, LeptosOptions};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::ApiError;

/// The Content-Security-Policy of every response but the dashboard page (API answers, static
/// files, the 404 page): nothing inline may run or style. Scripts come from this origin only
/// (`/pkg/*.js`, the SharedWorker), and the wasm they load needs `'wasm-unsafe-eval'`.
pub fn content_security_policy(leptos: &LeptosOptions) -> String {
    policy(leptos, "'self' 'wasm-unsafe-eval'", &[])
}

/// The dashboard page's policy: the same, plus `nonce` for its inline scripts (Leptos' hydration
/// bootstrap, the streamed resource chunks, and in development cargo-leptos' live-reload
/// script). A script injected into the page (through markup in server data, say) has no nonce
/// and does not run; inline event handlers (`onerror=`) never run, as no `'unsafe-inline'` or
/// `'unsafe-hashes'` is allowed.
///
/// `shard_ports`: the page of `?mode=sharded` opens its streams on those ports of the same host,
/// other origins, which `connect-src` must name.
pub fn page_content_security_policy(
    leptos: &LeptosOptions,
    nonce: &str,
    shard_ports: &[u16],
) -> String {
    policy(
        leptos,
        &format!("'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        shard_ports,
    )
}

/// `style-src 'self'`: the stylesheet is a file and the UI sets no `style` attribute, so no
/// inline style is needed (Leptos' `style:` directives would go through the CSSOM, which CSP
/// does not govern). In development, cargo-leptos' live-reload websocket is allowed too.
fn policy(leptos: &LeptosOptions, script_src: &str, shard_ports: &[u16]) -> String {
    let mut connect = String::from("'self'");
    for port in shard_ports {
        // Any host: the page is reached by whatever name the browser used for this server.
        connect.push_str(&format!(" http://*:{port} https://*:{port}"));
    }
    if leptos.env == Env::DEV {
        let port = leptos.reload_external_port.unwrap_or(leptos.reload_port);
        connect.push_str(&format!(" ws://127.0.0.1:{port} ws://localhost:{port}"));
    }
    format!(
        "default-src 'self'; script-src {script_src}; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Sets the dashboard page's policy; runs inside its render (leptos_axum's context closure), so
/// the header is set before the first byte is sent. The nonce is the one leptos_axum provides
/// per request (`leptos::nonce::use_nonce`, 128 random bits) and puts on every inline script it
/// renders; one is provided here should it be missing. Header and scripts hence carry the same
/// value, fresh per response (tested in `tests/api.rs`).
pub fn provide_page_csp(leptos: &LeptosOptions, shard_ports: &[u16]) {
    use leptos::nonce::{use_nonce, Nonce};
    let nonce = use_nonce().unwrap_or_else(|| {
        let nonce = Nonce::new();
        leptos::context::provide_context(nonce.clone());
        nonce
    });
    let csp = page_content_security_policy(leptos, &nonce, shard_ports);
    if let Some(response) = leptos::context::use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp).expect("CSP is ASCII (the nonce is base64url)"),
        );
    }
}

/// Layers that add the security headers to every response that lacks them (the dashboard page
/// sets its own CSP, with its nonce: [`provide_page_csp`]).
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
///
/// With shard ports, a page served by this server on `main_port` reads streams from the shard
/// ports, which are other origins: exactly the origin "this request's host, on the main port"
/// is allowed too (the host a browser used to reach the shard is the one it used for the page).
pub fn cors_layer(
    origins: &[String],
    main_port: u16,
    shard_ports: &[u16],
) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() && shard_ports.is_empty() {
        return Ok(None);
    }
    let values = origins
        .iter()
        .map(|o| HeaderValue::from_str(o.trim()).map_err(|_| format!("invalid CORS origin {o:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    let shards = !shard_ports.is_empty();
    let allow = AllowOrigin::predicate(move |origin: &HeaderValue, request| {
        values.contains(origin) || (shards && is_same_host_main_port(origin, request, main_port))
    });
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                HeaderName::from_static("last-event-id"),
            ]),
    ))
}

/// `origin` is `http(s)://<host of this request>:<main_port>`.
fn is_same_host_main_port(
    origin: &HeaderValue,
    request: &axum::http::request::Parts,
    main_port: u16,
) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let Some((origin_host, port)) = rest.rsplit_once(':') else {
        return false;
    };
    let request_host = request
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri.authority().map(|a| a.as_str()))
        .and_then(|authority| {
            authority
                .rsplit_once(':')
                .map(|(h, _)| h)
                .or(Some(authority))
        });
    port == main_port.to_string() && request_host == Some(origin_host)
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
        assert!(!csp.contains("'unsafe-inline'") && !csp.contains("nonce-"));
    }

    #[test]
    fn page_csp_allows_its_nonce_only_in_development_too() {
        let opts = LeptosOptions::builder()
            .output_name("tabrelay")
            .env(Env::DEV)
            .build();
        let csp = page_content_security_policy(&opts, "abc_-09", &[]);
        assert!(
            csp.contains("script-src 'self' 'nonce-abc_-09' 'wasm-unsafe-eval';"),
            "{csp}"
        );
        assert!(csp.contains("style-src 'self';"), "{csp}");
        assert!(!csp.contains("'unsafe-inline'"), "{csp}");
        assert!(csp.contains("ws://127.0.0.1:3001"), "live reload: {csp}");
    }
}
