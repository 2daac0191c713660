//! A client for the OCI distribution API (and Docker Registry v2): manifests, indexes and
//! blobs, anonymous or with credentials, Bearer-token and Basic challenges.
//!
//! Layers stream straight from the HTTP body through decompression into the [`FileSet`]; only
//! the files extractors want are kept, so memory does not grow with the image.

use std::io::Read;
use std::time::Duration;

use super::image::{self, ImageFacts, ManifestDoc, Platform};
use super::reference::Reference;
use super::{FileSet, Progress};
use crate::{Error, Result};

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// How to reach registries. Credentials belong to the worker's configuration, never to a job.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Speak plain HTTP instead of HTTPS. Only for registries on loopback that have no TLS.
    pub plain_http: bool,
    /// Username for Basic auth or for the token endpoint.
    pub username: Option<String>,
    /// Password or access token paired with `username`.
    pub password: Option<String>,
    /// A ready Bearer token (e.g. from ECR's GetAuthorizationToken), sent as is.
    pub bearer_token: Option<String>,
    /// Per-request connect and read timeout.
    pub timeout: Option<Duration>,
    /// Connect here (`http://127.0.0.1:5000`) instead of the reference's registry host: a
    /// mirror, or an emulator standing in for ECR. The repository path stays the reference's.
    pub endpoint: Option<String>,
}

struct Client {
    agent: ureq::Agent,
    base: String,
    repo: String,
    opts: RegistryOptions,
    registry: String,
    /// The Authorization header value earned from the last challenge.
    auth: Option<String>,
}

impl Client {
    fn new(reference: &Reference, opts: &RegistryOptions) -> Self {
        let timeout = opts.timeout.unwrap_or(Duration::from_secs(60));
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout_read(timeout)
            .redirects(5)
            .build();
        let scheme = if opts.plain_http { "http" } else { "https" };
        Self {
            agent,
            base: match &opts.endpoint {
                Some(e) => e.trim_end_matches('/').to_string(),
                None => format!("{scheme}://{}", reference.api_host()),
            },
            repo: reference.repository.clone(),
            auth: opts.bearer_token.as_ref().map(|t| format!("Bearer {t}")),
            opts: opts.clone(),
            registry: reference.registry.clone(),
        }
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Registry {
            registry: self.registry.clone(),
            message: message.into(),
        }
    }

    /// GET with authentication: on a 401 the challenge is answered once and the request retried.
    fn get(&mut self, path: &str, accept: Option<&str>) -> Result<ureq::Response> {
        let url = format!("{}/v2/{}/{path}", self.base, self.repo);
        for attempt in 0..2 {
            let mut req = self.agent.get(&url);
            if let Some(a) = accept {
                req = req.set("Accept", a);
            }
            if let Some(auth) = &self.auth {
                req = req.set("Authorization", auth);
            }
            match req.call() {
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(401, resp)) if attempt == 0 => {
                    let challenge = resp.header("WWW-Authenticate").unwrap_or_default().to_string();
                    self.answer(&challenge)?;
                }
                Err(ureq::Error::Status(code, resp)) => {
                    let mut body = String::new();
                    let _ = resp.into_reader().take(1024).read_to_string(&mut body);
                    let hint = match code {
                        401 | 403 => "access denied",
                        404 => "not found",
                        429 => "rate limited",
                        _ => "request failed",
                    };
                    return Err(self.err(format!("GET {url}: {hint} (HTTP {code}) {}", body.trim())));
                }
                Err(ureq::Error::Transport(t)) => return Err(self.err(format!("GET {url}: {t}"))),
            }
        }
        Err(self.err(format!("GET {url}: still unauthorized after answering the challenge")))
    }

    fn basic(&self) -> Option<String> {
        use base64::Engine;
        let encode = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        match (&self.opts.username, &self.opts.password) {
            (Some(u), Some(p)) => Some(format!("Basic {}", encode(format!("{u}:{p}").as_bytes()))),
            _ => None,
        }
    }

    fn answer(&mut self, challenge: &str) -> Result<()> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            self.auth = Some(
                self.basic()
                    .ok_or_else(|| self.err("registry wants Basic credentials and none are configured"))?,
            );
            return Ok(());
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(self.err(format!("unsupported authentication challenge {challenge:?}")));
        }
        let params = parse_challenge(params);
        let get = |k: &str| {
            params
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let realm = get("realm").ok_or_else(|| self.err("Bearer challenge without a realm"))?;
        let mut url = format!("{realm}?");
        if let Some(service) = get("service") {
            url.push_str(&format!("service={}&", urlencode(service)));
        }
        let scope = get("scope")
            .map(str::to_string)
            .unwrap_or_else(|| format!("repository:{}:pull", self.repo));
        url.push_str(&format!("scope={}", urlencode(&scope)));
        let mut req = self.agent.get(&url);
        if let Some(b) = self.basic() {
            req = req.set("Authorization", &b);
        }
        let resp = req
            .call()
            .map_err(|e| self.err(format!("token request to {realm}: {e}")))?;
        let mut body = Vec::new();
        resp.into_reader()
            .take(1 << 20)
            .read_to_end(&mut body)
            .map_err(|e| self.err(format!("token response: {e}")))?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| self.err(format!("token response: {e}")))?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| self.err("token response has no token"))?;
        self.auth = Some(format!("Bearer {token}"));
        Ok(())
    }

    fn document(&mut self, reference: &str, cap: u64) -> Result<Vec<u8>> {
        let resp = self.get(&format!("manifests/{reference}"), Some(MANIFEST_ACCEPT))?;
        let mut body = Vec::new();
        resp.into_reader()
            .take(cap + 1)
            .read_to_end(&mut body)
            .map_err(|e| self.err(format!("manifest {reference}: {e}")))?;
        if body.len() as u64 > cap {
            return Err(self.err(format!("manifest {reference} is larger than {cap} bytes")));
        }
        Ok(body)
    }
}

/// `key="value", key=value` pairs of a WWW-Authenticate header.
fn parse_challenge(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (quoted[..end].to_string(), &quoted[end + 1..]),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_string(), &after[end..]),
                None => (after.trim().to_string(), ""),
            }
        };
        out.push((key, value));
        rest = remainder.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// Reads the image `target` from its registry into `files`.
pub fn read_image(
    target: &str,
    platform: &Platform,
    opts: &RegistryOptions,
    files: &mut FileSet<'_>,
    progress: &dyn Progress,
) -> Result<ImageFacts> {
    let reference = Reference::parse(target).map_err(|e| Error::malformed(target, e))?;
    if opts.plain_http && !reference.is_loopback() {
        tracing::warn!(registry = %reference.registry, "plain HTTP to a registry that is not on loopback");
    }
    let limits = files.limits().clone();
    let mut client = Client::new(&reference, opts);
    progress.message("manifest");
    let mut bytes = client.document(reference.manifest_ref(), limits.max_document_bytes)?;
    let mut digest = sha256_hex(&bytes);
    if let Some(pinned) = &reference.digest {
        if &digest != pinned {
            return Err(client.err(format!("manifest digest is {digest}, expected {pinned}")));
        }
    }
    let mut doc = ManifestDoc::parse(target, &bytes)?;
    if doc.schema_version == Some(1) {
        return Err(Error::Unsupported(format!("{target}: Docker schema 1 manifests")));
    }
    for _ in 0..4 {
        if !doc.is_index() {
            break;
        }
        let desc = doc.select(target, platform)?;
        bytes = client.document(&desc.digest, limits.max_document_bytes)?;
        digest = sha256_hex(&bytes);
        if digest != desc.digest {
            return Err(client.err(format!("manifest digest is {digest}, index says {}", desc.digest)));
        }
        doc = ManifestDoc::parse(target, &bytes)?;
    }
    let mut open = |blob_digest: &str| -> Result<(Box<dyn Read>, u64)> {
        // The digest comes from a manifest the registry sent: check its shape before it goes
        // into a URL path.
        image::blob_relpath(target, blob_digest)?;
        let resp = client.get(&format!("blobs/{blob_digest}"), None)?;
        let len = resp.header("Content-Length").and_then(|l| l.parse().ok()).unwrap_or(0);
        Ok((Box::new(resp.into_reader()), len))
    };
    let mut facts = image::apply_manifest(&doc, files, &limits, &mut open, progress)?;
    facts.manifest_digest = Some(digest);
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge_parameters_are_parsed() {
        let p = parse_challenge(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        );
        assert_eq!(p[0], ("realm".into(), "https://auth.docker.io/token".into()));
        assert_eq!(p[1], ("service".into(), "registry.docker.io".into()));
        assert_eq!(p[2], ("scope".into(), "repository:library/nginx:pull".into()));
    }
}
