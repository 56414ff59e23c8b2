//! HTTPS: `--tls self-signed` makes a certificate at start (for local use: browsers warn, tests
//! ignore it), `--tls-cert` / `--tls-key` take PEM files. ALPN offers HTTP/2 first, then
//! HTTP/1.1, so browsers get HTTP/2 and its one connection for every stream of a host.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::Config;

/// Installs ring as the process's rustls provider (the HTTPS server, the Redis client's
/// `rediss://` and any rustls client in the process use it), unless one is installed already.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The acceptor the config asks for, or `None` for plain HTTP.
pub fn acceptor(config: &Config) -> Result<Option<TlsAcceptor>, String> {
    let (certs, key) = match (&config.tls, &config.tls_cert, &config.tls_key) {
        (None, None, None) => return Ok(None),
        (Some(mode), None, None) if mode == "self-signed" => self_signed(config)?,
        (Some(mode), _, _) if mode != "self-signed" => {
            return Err(format!("--tls takes `self-signed`, got {mode:?}"))
        }
        (Some(_), _, _) => {
            return Err("--tls self-signed and --tls-cert / --tls-key exclude each other".into())
        }
        (None, Some(cert), Some(key)) => from_files(cert, key)?,
        (None, _, _) => return Err("--tls-cert and --tls-key go together".into()),
    };
    install_crypto_provider();
    let mut server = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate and key: {e}"))?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

type CertAndKey = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn self_signed(config: &Config) -> Result<CertAndKey, String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let ip = config.addr.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("could not make a self-signed certificate: {e}"))?;
    tracing::warn!("serving HTTPS with a self-signed certificate (for local use only)");
    Ok((
        vec![made.cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der())),
    ))
}

fn from_files(cert: &std::path::Path, key: &std::path::Path) -> Result<CertAndKey, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "--tls-cert {}: no certificate in it",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    Ok((certs, key))
}
