//! HTTPS: with `[tls] cert = "chain.pem", key = "key.pem"` the server speaks TLS (rustls, ring
//! provider) on its listen address; without it, plain HTTP. HEC senders then use
//! `https://host:8088` as with a Splunk HEC.
//!
//! Handshakes run on each connection's task, with a timeout (`listener/`), so a client that
//! connects and stalls holds no one else up.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `[tls]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM: the server certificate, then its chain.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Makes ring the process's rustls provider (the server and the actions' client); once.
/// ring builds with a C compiler alone (aws-lc-rs, rustls' default, needs cmake and builds for
/// minutes); rustls 0.23.48 deprecates it for lacking post-quantum key exchange, which HEC
/// senders do not offer anyway.
#[allow(deprecated)]
pub fn install_provider() {
    // Fails only when a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The rustls server config of `cfg`; errors name the file.
pub fn server_config(cfg: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    install_provider();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert)
        .map_err(|e| pem_error(&cfg.cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem_error(&cfg.cert, e))?;
    if certs.is_empty() {
        return Err(format!("tls: {}: no certificate in the file", cfg.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&cfg.key).map_err(|e| pem_error(&cfg.key, e))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls: {} / {}: {e}", cfg.cert.display(), cfg.key.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn pem_error(path: &Path, e: rustls::pki_types::pem::Error) -> String {
    format!("tls: {}: {e}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_load_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&c, cert.cert.pem()).unwrap();
        std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
        assert!(server_config(&TlsConfig { cert: c.clone(), key: k.clone() }).is_ok());
        let e = server_config(&TlsConfig { cert: k.clone(), key: k.clone() }).unwrap_err();
        assert!(e.contains("key.pem") && e.contains("no certificate"), "{e}");
        let e = server_config(&TlsConfig { cert: c.clone(), key: dir.path().join("missing.pem") }).unwrap_err();
        assert!(e.contains("missing.pem"), "{e}");
    }
}
