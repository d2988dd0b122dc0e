//! The sandbox's certificate authority: clients trust its certificate, and
//! it signs server certificates for the sites' names, either from a CSR (the
//! server keeps its private key) or with a key it generates.
//!
//! The CA key lives in the lab folder with mode 0600 and is never logged.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};

use super::record::write_atomic;
use super::template::make_folder;
use crate::secret::Secret;

/// How long the CA certificate is valid.
const CA_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// How long the site certificates the lab issues are valid (as Let's
/// Encrypt's).
pub const SITE_VALIDITY: Duration = Duration::from_secs(90 * 24 * 3600);

/// The sites' certificates: the first name is the file name and common
/// name, the rest are further subject alternative names.
pub const SITE_CERTIFICATES: &[&[&str]] = &[
    &["stats.wwdt.me", "wwdt.me", "www.wwdt.me"],
    &["api.wwdt.me"],
    &["graphs.wwdt.me"],
    &["reports.wwdt.me"],
    &["stats.staging.wwdt.me"],
    &["api.staging.wwdt.me"],
    &["graphs.staging.wwdt.me"],
    &["reports.staging.wwdt.me"],
];

/// A certificate with the private key the CA generated for it.
pub struct IssuedCertificate {
    pub certificate_pem: String,
    pub private_key_pem: Secret,
}

/// The files of one site certificate issued into the CA folder.
#[derive(Clone, Debug)]
pub struct SiteCertificate {
    pub names: Vec<String>,
    pub certificate_path: PathBuf,
    /// The private key, mode 0600.
    pub key_path: PathBuf,
}

/// The lab's certificate authority, stored in one folder.
#[derive(Clone, Debug)]
pub struct Ca {
    dir: PathBuf,
}

impl Ca {
    /// Create a new CA key and certificate in `dir`.
    pub fn create(dir: &Path) -> anyhow::Result<Self> {
        make_folder(dir, 0o700, None)?;
        let key = KeyPair::generate().context("cannot generate the CA key")?;

        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "wwctl sandbox CA");
        name.push(DnType::OrganizationName, "wwctl sandbox");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, CA_VALIDITY)?;
        params.serial_number = Some(random_serial());
        let certificate = params
            .self_signed(&key)
            .context("cannot sign the CA certificate")?;

        let ca = Self {
            dir: dir.to_path_buf(),
        };
        write_atomic(&ca.key_path(), key.serialize_pem().as_bytes(), 0o600)?;
        write_atomic(&ca.certificate_path(), certificate.pem().as_bytes(), 0o644)?;
        Ok(ca)
    }

    /// Open the CA that `create` made in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let ca = Self {
            dir: dir.to_path_buf(),
        };
        if !ca.certificate_path().is_file() || !ca.key_path().is_file() {
            bail!("no sandbox CA in `{}`; is the lab up?", dir.display());
        }
        Ok(ca)
    }

    /// Return the path of the CA certificate (PEM) that clients trust.
    pub fn certificate_path(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("ca.key")
    }

    fn issuer(&self) -> anyhow::Result<Issuer<'static, KeyPair>> {
        let key_pem = Secret::new(
            fs::read_to_string(self.key_path()).context("cannot read the sandbox CA key")?,
        );
        let key = KeyPair::from_pem(key_pem.expose()).context("the sandbox CA key is invalid")?;
        let certificate = fs::read_to_string(self.certificate_path())
            .context("cannot read the sandbox CA certificate")?;
        Issuer::from_ca_cert_pem(&certificate, key).context("the sandbox CA certificate is invalid")
    }

    /// Sign a certificate for `names` over the public key of a CSR, so the
    /// server keeps its private key. The CSR's signature is checked; its
    /// own subject and names are ignored in favour of `names`. The CSR may
    /// carry only subject alternative name, key usage and extended key
    /// usage extensions.
    pub fn sign_csr(
        &self,
        csr_pem: &str,
        names: &[String],
        validity: Duration,
    ) -> anyhow::Result<String> {
        let request = CertificateSigningRequestParams::from_pem(csr_pem).context(
            "the certificate signing request is invalid or its signature does not verify",
        )?;
        let params = server_params(names, validity)?;
        let signed = CertificateSigningRequestParams {
            params,
            public_key: request.public_key,
        }
        .signed_by(&self.issuer()?)
        .context("cannot sign the certificate")?;
        Ok(signed.pem())
    }

    /// Issue a certificate for `names` with a new private key.
    pub fn issue(&self, names: &[String], validity: Duration) -> anyhow::Result<IssuedCertificate> {
        let key = KeyPair::generate().context("cannot generate a certificate key")?;
        let params = server_params(names, validity)?;
        let certificate = params
            .signed_by(&key, &self.issuer()?)
            .context("cannot sign the certificate")?;
        Ok(IssuedCertificate {
            certificate_pem: certificate.pem(),
            private_key_pem: Secret::new(key.serialize_pem()),
        })
    }

    /// Issue the sites' certificates into `sites/<name>.crt` and
    /// `sites/<name>.key` of the CA folder.
    pub fn issue_site_certificates(&self) -> anyhow::Result<Vec<SiteCertificate>> {
        let dir = self.dir.join("sites");
        make_folder(&dir, 0o700, None)?;
        let mut issued = Vec::new();
        for names in SITE_CERTIFICATES {
            let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
            let certificate = self.issue(&names, SITE_VALIDITY)?;
            let certificate_path = dir.join(format!("{}.crt", names[0]));
            let key_path = dir.join(format!("{}.key", names[0]));
            write_atomic(
                &key_path,
                certificate.private_key_pem.expose().as_bytes(),
                0o600,
            )?;
            write_atomic(
                &certificate_path,
                certificate.certificate_pem.as_bytes(),
                0o644,
            )?;
            issued.push(SiteCertificate {
                names,
                certificate_path,
                key_path,
            });
        }
        Ok(issued)
    }
}

fn server_params(names: &[String], validity: Duration) -> anyhow::Result<CertificateParams> {
    let Some(first) = names.first() else {
        bail!("a certificate needs at least one name");
    };
    let mut params = CertificateParams::new(names.to_vec())
        .with_context(|| format!("invalid certificate names {names:?}"))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, first.as_str());
    params.distinguished_name = name;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial());
    set_validity(&mut params, validity)?;
    Ok(params)
}

/// Valid from a minute ago (clocks differ a little) for `validity`.
fn set_validity(params: &mut CertificateParams, validity: Duration) -> anyhow::Result<()> {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(1);
    params.not_after = now + time::Duration::try_from(validity).context("validity is too long")?;
    Ok(())
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    // A positive serial number: the top bit clear.
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use rcgen::{CertificateParams, KeyPair};
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

    use super::Ca;

    fn dns_names(pem_text: &str) -> Vec<String> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).unwrap();
        let (_, certificate) = X509Certificate::from_der(&pem.contents).unwrap();
        certificate
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn sign_csr_uses_given_names_and_keeps_key() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join("ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let server_key = KeyPair::generate().unwrap();
        let csr = CertificateParams::new(vec!["ignored.example".to_string()])
            .unwrap()
            .serialize_request(&server_key)
            .unwrap()
            .pem()
            .unwrap();
        let names = vec!["stats.wwdt.me".to_string(), "www.wwdt.me".to_string()];
        let pem = ca
            .sign_csr(&csr, &names, Duration::from_secs(3600))
            .unwrap();
        assert_eq!(dns_names(&pem), names);
    }

    /// The server side as wwctl runs it: openssl makes the key and CSR, the
    /// CA signs, and openssl verifies the chain and the names.
    #[test]
    fn sign_csr_accepts_openssl_request() {
        if std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_err()
        {
            eprintln!("SKIPPED sign_csr_accepts_openssl_request: no openssl on this machine");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(&dir.path().join("ca")).unwrap();
        let key = dir.path().join("server.key");
        let csr_path = dir.path().join("server.csr");
        let generated = std::process::Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-subj", "/CN=api.wwdt.me", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&csr_path)
            .output()
            .unwrap();
        assert!(
            generated.status.success(),
            "{}",
            String::from_utf8_lossy(&generated.stderr)
        );

        let csr = std::fs::read_to_string(&csr_path).unwrap();
        let names = vec!["api.wwdt.me".to_string(), "api.staging.wwdt.me".to_string()];
        let pem = ca
            .sign_csr(&csr, &names, Duration::from_secs(3600))
            .unwrap();
        let certificate = dir.path().join("server.crt");
        std::fs::write(&certificate, &pem).unwrap();

        let verified = std::process::Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(ca.certificate_path())
            .args(["-verify_hostname", "api.staging.wwdt.me"])
            .arg(&certificate)
            .output()
            .unwrap();
        assert!(
            verified.status.success(),
            "{}{}",
            String::from_utf8_lossy(&verified.stdout),
            String::from_utf8_lossy(&verified.stderr)
        );
        assert_eq!(dns_names(&pem), names);
    }

    #[test]
    fn site_certificates_cover_every_site_name() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path()).unwrap();
        let issued = ca.issue_site_certificates().unwrap();
        assert_eq!(issued.len(), 8);
        let stats = std::fs::read_to_string(&issued[0].certificate_path).unwrap();
        assert_eq!(
            dns_names(&stats),
            vec!["stats.wwdt.me", "wwdt.me", "www.wwdt.me"]
        );
        let mode = std::fs::metadata(&issued[0].key_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let all: Vec<String> = issued.iter().flat_map(|site| site.names.clone()).collect();
        assert!(all.contains(&"reports.staging.wwdt.me".to_string()));
    }

    #[test]
    fn sign_csr_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path()).unwrap();
        let error = ca
            .sign_csr(
                "not a csr",
                &["a.example".to_string()],
                Duration::from_secs(60),
            )
            .unwrap_err();
        assert!(format!("{error:#}").contains("certificate signing request is invalid"));
    }
}
