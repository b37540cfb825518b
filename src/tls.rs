//! TLS per libpq's `sslmode`, on rustls: which certificates are trusted, and what a mode checks.
//!
//! tokio-postgres itself knows only disable/prefer/require and rejects `verify-ca`,
//! `verify-full` and `sslrootcert`; libpq's meaning of each is rebuilt here:
//!
//! | sslmode             | encrypted          | chain checked            | host name checked |
//! |---------------------|--------------------|--------------------------|-------------------|
//! | disable             | no                 |                          |                   |
//! | allow, prefer       | if the server can  | no                       | no                |
//! | require             | yes                | only with `sslrootcert`  | no                |
//! | verify-ca           | yes                | yes                      | no                |
//! | verify-full         | yes                | yes                      | yes               |
//!
//! Why rustls and not OpenSSL (native-tls): linking libssl and libcrypto dynamically costs
//! every run about 0.7 ms in the loader before `main` (4,300 symbol relocations), TLS or not,
//! and native-tls parses the whole system CA bundle twice when it builds a connector, even for
//! modes that verify nothing (~45 ms of CPU per run with the default `sslmode=prefer`). Here
//! the system store is read only by the modes that verify without `sslrootcert`.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;

use log::debug;
use postgres::config::SslMode as PgSslMode;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use rustls::{SignatureScheme, crypto};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::conninfo::{ConnInfo, SslMode};
use crate::error::{Error, Result};

/// How a connection is made: plaintext, or TLS with a verifier for the mode.
#[derive(Clone)]
pub enum Tls {
    Plain,
    Rustls(MakeRustlsConnect),
}

/// Reads and parses `sslrootcert` (exit 3 when unreadable or without a PEM certificate). Used
/// by check-env too, which must not pay for setting up TLS.
pub fn root_certificates(info: &ConnInfo) -> Result<Option<Vec<CertificateDer<'static>>>> {
    let Some(path) = &info.sslrootcert else {
        return Ok(None);
    };
    let pem = std::fs::read(path).map_err(|e| {
        Error::env(format!(
            "sslrootcert {} cannot be read: {e}",
            path.display()
        ))
    })?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<_, _>>()
        .unwrap_or_default();
    if certs.is_empty() {
        return Err(Error::env(format!(
            "sslrootcert {} is not a PEM certificate",
            path.display()
        )));
    }
    Ok(Some(certs))
}

/// Builds the connector for `info.sslmode` and the mode to hand the driver.
pub fn connector(info: &ConnInfo) -> Result<(Tls, PgSslMode)> {
    // libpq: with a root certificate file, require behaves as verify-ca.
    let mode = match (info.sslmode, &info.sslrootcert) {
        (SslMode::Require, Some(_)) => SslMode::VerifyCa,
        (m, _) => m,
    };
    let pg_mode = match mode {
        SslMode::Disable => return Ok((Tls::Plain, PgSslMode::Disable)),
        // `allow` (plain first, TLS if refused) has no driver equivalent; prefer is the
        // closest and never less secure.
        SslMode::Allow | SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    };
    let provider = Arc::new(crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Allow | SslMode::Prefer | SslMode::Require => {
            Arc::new(Unverified(provider.signature_verification_algorithms))
        }
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = roots(info)?;
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| Error::Internal(format!("cannot build the TLS verifier: {e}")))?;
            if mode == SslMode::VerifyCa {
                Arc::new(ChainOnly(webpki))
            } else {
                webpki
            }
        }
        SslMode::Disable => unreachable!("returned Tls::Plain above"),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok((Tls::Rustls(MakeRustlsConnect::new(config)), pg_mode))
}

/// The trust anchors of a verifying mode: `sslrootcert` alone when given (as libpq), else the
/// system store.
fn roots(info: &ConnInfo) -> Result<Arc<RootCertStore>> {
    let mut store = RootCertStore::empty();
    match root_certificates(info)? {
        Some(certs) => {
            let (_, ignored) = store.add_parsable_certificates(certs);
            if store.is_empty() {
                let path = info.sslrootcert.as_deref().map(|p| p.display().to_string());
                return Err(Error::env(format!(
                    "sslrootcert {} holds no usable CA certificate ({ignored} unparsable)",
                    path.unwrap_or_default()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                debug!("system certificate store: {e}");
            }
            let (added, ignored) = store.add_parsable_certificates(found.certs);
            debug!("system certificate store: {added} CA certificates ({ignored} unparsable)");
        }
    }
    Ok(Arc::new(store))
}

/// allow, prefer, require: encrypt, verify nothing about the certificate (libpq's meaning);
/// the handshake signatures are still checked, so the session key belongs to the certificate.
#[derive(Debug)]
struct Unverified(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// verify-ca: the chain must lead to a trusted root; the host name is not compared. webpki
/// checks the chain before the name, so a name mismatch means the chain passed.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// What went wrong in a TLS handshake, from the driver error's source chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The certificate is not valid for the host connected to.
    HostName,
    /// The chain does not lead to a trusted root (unknown issuer, self-signed, bad signature).
    Untrusted,
    /// Any other TLS error (protocol, alert, expired certificate…).
    Other,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::HostName => "host name mismatch",
            Failure::Untrusted => "certificate not trusted",
            Failure::Other => "TLS error",
        })
    }
}

/// Finds the rustls error in a driver error's source chain (tokio-rustls wraps it in an
/// `io::Error`, whose `source()` skips it: hence `get_ref`).
pub fn failure(err: &(dyn StdError + 'static)) -> Option<Failure> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        let inner = e
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .map(|r| r as &(dyn StdError + 'static));
        if let Some(tls) = inner
            .and_then(|r| r.downcast_ref::<rustls::Error>())
            .or_else(|| e.downcast_ref::<rustls::Error>())
        {
            return Some(match tls {
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                ) => Failure::HostName,
                rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                    | CertificateError::BadSignature
                    | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
                    | CertificateError::ApplicationVerificationFailure,
                ) => Failure::Untrusted,
                _ => Failure::Other,
            });
        }
        next = inner.or_else(|| e.source());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conninfo;

    #[test]
    fn disable_is_plaintext_and_prefer_builds_without_the_system_store() {
        let info = conninfo::parse("postgresql://u@h/d?sslmode=disable").unwrap();
        assert!(matches!(
            connector(&info).unwrap(),
            (Tls::Plain, PgSslMode::Disable)
        ));
        let info = conninfo::parse("postgresql://u@h/d").unwrap();
        assert!(matches!(
            connector(&info).unwrap(),
            (Tls::Rustls(_), PgSslMode::Prefer)
        ));
        let info = conninfo::parse("postgresql://u@h/d?sslmode=verify-full").unwrap();
        assert!(matches!(
            connector(&info).unwrap(),
            (Tls::Rustls(_), PgSslMode::Require)
        ));
    }

    #[test]
    fn a_file_without_a_certificate_is_an_environment_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let url = format!(
            "postgresql://u@h/d?sslmode=verify-ca&sslrootcert={}",
            path.display()
        );
        let info = conninfo::parse(&url).unwrap();
        let err = root_certificates(&info).unwrap_err();
        assert!(
            err.to_string().contains("is not a PEM certificate"),
            "{err}"
        );
    }

    #[test]
    fn the_rustls_error_is_found_behind_an_io_error() {
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert_eq!(failure(&io), Some(Failure::Untrusted));
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
        );
        assert_eq!(failure(&io), Some(Failure::HostName));
        assert_eq!(failure(&io::Error::other("plain")), None);
    }
}
