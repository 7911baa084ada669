//! TLS client settings for tcp checks: trust a given CA (`cert` / `certPath`), the system's
//! roots, or — with `skipVerify` — anything, while still checking handshake signatures.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::check::CheckError;
use crate::config::{CaSource, TlsOptions};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// PEM certificates from a CA source.
pub fn ca_certificates(ca: &CaSource) -> Result<Vec<CertificateDer<'static>>, CheckError> {
    let pem = match ca {
        CaSource::Inline(text) => text.as_bytes().to_vec(),
        CaSource::File(path) => std::fs::read(path)
            .map_err(|e| CheckError::new(format!("cannot read CA file {}: {e}", path.display())))?,
    };
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| CheckError::new(format!("invalid PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(CheckError::new("no certificate found in the CA PEM"));
    }
    Ok(certs)
}

/// A rustls client configuration for `opts`.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, CheckError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| CheckError::new(format!("TLS setup: {e}")))?;
    let config = if opts.skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
            .with_no_client_auth()
    } else if let Some(ca) = &opts.ca {
        let mut roots = RootCertStore::empty();
        for cert in ca_certificates(ca)? {
            roots
                .add(cert)
                .map_err(|e| CheckError::new(format!("unusable CA certificate: {e}")))?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        let verifier = rustls_platform_verifier::Verifier::new(provider())
            .map_err(|e| CheckError::new(format!("cannot load the system's CA roots: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The name to verify and send as SNI: `serverName`, or the address itself.
pub fn server_name(opts: &TlsOptions, target: IpAddr) -> Result<ServerName<'static>, CheckError> {
    match &opts.server_name {
        Some(name) => ServerName::try_from(name.clone())
            .map_err(|e| CheckError::new(format!("serverName {name:?} is not a valid name: {e}"))),
        None => Ok(ServerName::IpAddress(target.into())),
    }
}

/// `skipVerify`: any certificate is accepted, but the handshake is still verified, so the
/// peer must hold the key of the certificate it presents.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
