//! TLS to the witness (https endpoints): rustls with the `ca_file` as the only trust root,
//! and a client certificate when `cert_file` and `key_file` are set.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

#[derive(Clone)]
pub struct Connector(TlsConnector);

impl Connector {
    /// Reads the PEM files; the error names the file and what is wrong with it.
    pub fn from_files(ca: &Path, cert: Option<&Path>, key: Option<&Path>) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        for der in certificates(ca)? {
            roots
                .add(der)
                .map_err(|e| format!("{}: {e}", ca.display()))?;
        }
        // ring rather than aws-lc-rs: no cmake or assembler toolchain to build, on every
        // architecture Debian has. It lacks only the post-quantum key exchange, which
        // rustls marks by deprecating this function.
        #[allow(deprecated)]
        let provider = Arc::new(crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        let config = match (cert, key) {
            (Some(cert), Some(key)) => {
                let key_der = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("{}: no private key: {e}", key.display()))?;
                builder
                    .with_client_auth_cert(certificates(cert)?, key_der)
                    .map_err(|e| format!("{}: {e}", cert.display()))?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Connector(TlsConnector::from(Arc::new(config))))
    }

    pub async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, String> {
        let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        self.0
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(certs)
}
