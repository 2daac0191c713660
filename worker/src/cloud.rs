//! Artifacts that live in AWS. ECR images are pulled through the registry API with the Basic
//! credentials that ECR's GetAuthorizationToken hands out; Lambda packages and their layers are
//! downloaded from the URLs GetFunction and GetLayerVersionByArn return.
//!
//! The worker's own credentials (the standard chain of its environment) enter the artifact's
//! account through AssumeRole when a role is configured. A job carries only the locator
//! (`registry:<account>.dkr.ecr.<region>.amazonaws.com/<repo>@<digest>`, `lambda:<function ARN>`),
//! never a credential.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::artifact::registry::RegistryOptions;
use crate::{Error, Result};

/// How workers reach artifacts in AWS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudConfig {
    /// Role assumed in an artifact's account when that is not the worker's own account
    /// (usually the role discovery assumes). Empty: the worker's own credentials are used for
    /// every account, which then must grant them access (repository and function policies).
    pub role_name: String,
    /// External id passed to AssumeRole, when the role's trust policy asks for one.
    pub external_id: Option<String>,
    /// Session name of the assumed role sessions, as CloudTrail shows them.
    pub session_name: String,
    /// Region of STS calls; ECR and Lambda are called in the artifact's own region.
    pub home_region: String,
    /// AWS API endpoint for every service (an emulator); `AWS_ENDPOINT_URL` works as well.
    pub endpoint_url: Option<String>,
    /// Connect to this registry instead of `<account>.dkr.ecr.<region>.amazonaws.com`
    /// (an emulator's registry, a pull-through mirror); `http://` means plain HTTP.
    pub ecr_registry_endpoint: Option<String>,
    /// Download Lambda packages from this endpoint instead of the host in the URL Lambda
    /// returns, sending that host as the Host header (an emulator serving S3).
    pub download_endpoint: Option<String>,
    /// Largest Lambda package or layer downloaded, in (compressed) bytes.
    pub max_download_bytes: u64,
    /// Timeout of one AWS API call attempt and of one download's connect and reads, seconds.
    pub call_timeout_secs: u64,
}

impl Default for CloudConfig {
    fn default() -> Self {
        Self {
            role_name: String::new(),
            external_id: None,
            session_name: "argus-worker".into(),
            home_region: "us-east-1".into(),
            endpoint_url: None,
            ecr_registry_endpoint: None,
            download_endpoint: None,
            // Lambda's own ceiling is 250 MB unzipped for code and layers together.
            max_download_bytes: 512 << 20,
            call_timeout_secs: 30,
        }
    }
}

/// `(account, region)` of an ECR registry host (`123456789012.dkr.ecr.eu-west-1.amazonaws.com`,
/// also the FIPS and China partitions); `None` for any other registry.
pub fn ecr_registry(host: &str) -> Option<(String, String)> {
    let host = host.split(':').next()?;
    let mut parts = host.split('.');
    let account = parts.next()?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if parts.next()? != "dkr" || !matches!(parts.next()?, "ecr" | "ecr-fips") {
        return None;
    }
    let region = parts.next()?;
    (parts.next()? == "amazonaws" && !region.is_empty()).then(|| (account.to_string(), region.to_string()))
}

/// `(region, account)` of a Lambda function or layer version ARN.
fn arn_region_account(arn: &str) -> Option<(String, String)> {
    let mut f = arn.split(':');
    (f.next()? == "arn").then_some(())?;
    let (_partition, service, region, account) = (f.next()?, f.next()?, f.next()?, f.next()?);
    (service == "lambda" && !region.is_empty() && !account.is_empty())
        .then(|| (region.to_string(), account.to_string()))
}

/// The artifact digest of a Lambda function: its package (`sha256:` + hex of CodeSha256), or,
/// with layers, the SHA-256 of the package digest and the layer version ARNs in order; so
/// functions share an artifact exactly when they run the same code on the same layers.
pub fn lambda_digest(code_sha256: &str, layer_arns: &[String]) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(code_sha256).ok()?;
    if bytes.len() != 32 {
        return None;
    }
    let code = format!("sha256:{}", hex::encode(bytes));
    if layer_arns.is_empty() {
        return Some(code);
    }
    let mut h = sha2::Sha256::new();
    h.update(b"lambda-function-v1\n");
    h.update(code.as_bytes());
    for arn in layer_arns {
        h.update(b"\n");
        h.update(arn.as_bytes());
    }
    Some(format!("sha256:{}", hex::encode(h.finalize())))
}

/// Credentials of an AssumeRole answer as an SDK configuration derived from `base`, with the
/// time they expire.
pub fn assumed_config(
    base: &SdkConfig,
    c: &aws_sdk_sts::types::Credentials,
    provider: &'static str,
) -> (SdkConfig, Option<SystemTime>) {
    let expiry = SystemTime::try_from(*c.expiration()).ok();
    let credentials = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        expiry,
        provider,
    );
    let config = base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    (config, expiry)
}

/// Where a Lambda function's code is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LambdaCode {
    /// A zip package at a (presigned) URL, with its CodeSha256.
    Zip { url: String, code_sha256: String },
    /// A container image, as a registry reference pinned by digest.
    Image { reference: String },
}

/// A layer version of a function: its ARN, the URL of its zip and its CodeSha256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaLayer {
    pub arn: String,
    pub url: String,
    pub code_sha256: String,
}

/// What GetFunction says a function runs now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaPackage {
    pub code: LambdaCode,
    pub layers: Vec<LambdaLayer>,
    /// [`lambda_digest`] of the current code and layers: compared with the job's digest so
    /// that findings never land on an artifact other than the one scanned.
    pub digest: Option<String>,
}

struct Base {
    sdk: SdkConfig,
    /// The account of the worker's own credentials; empty when no role is configured (then
    /// nobody asked STS).
    own_account: String,
}

struct EcrLogin {
    username: String,
    password: String,
    expires: Option<SystemTime>,
}

struct Inner {
    config: CloudConfig,
    base: tokio::sync::OnceCell<Base>,
    accounts: Mutex<HashMap<String, (SdkConfig, Option<SystemTime>)>>,
    ecr_logins: Mutex<HashMap<(String, String), EcrLogin>>,
}

/// The worker's access to AWS, shared by its jobs. Nothing is loaded or called until the
/// first AWS artifact; entered accounts and ECR logins are reused until shortly before they
/// expire.
#[derive(Clone)]
pub struct CloudAccess {
    inner: Arc<Inner>,
}

/// Credentials are renewed this long before they expire, so that none expires mid-download.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

fn fresh(expires: Option<SystemTime>) -> bool {
    expires.is_some_and(|e| e > SystemTime::now() + RENEW_BEFORE)
}

fn cloud_error<E, R>(operation: &str, e: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().unwrap_or_default().to_string();
    let denied = code.contains("AccessDenied") || code.contains("Unauthorized") || code.contains("Forbidden");
    Error::Cloud {
        operation: operation.to_string(),
        denied,
        message: format!("{}", DisplayErrorContext(&e)),
    }
}

fn failure(operation: &str, message: impl Into<String>) -> Error {
    Error::Cloud {
        operation: operation.to_string(),
        denied: false,
        message: message.into(),
    }
}

impl std::fmt::Debug for CloudAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudAccess")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl CloudAccess {
    pub fn new(config: CloudConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                base: tokio::sync::OnceCell::new(),
                accounts: Mutex::new(HashMap::new()),
                ecr_logins: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn config(&self) -> &CloudConfig {
        &self.inner.config
    }

    async fn base(&self) -> Result<&Base> {
        self.inner
            .base
            .get_or_try_init(|| async {
                let c = &self.inner.config;
                let http = aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                    .build_https();
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .http_client(http)
                    .region(Region::new(c.home_region.clone()))
                    .retry_config(RetryConfig::standard().with_max_attempts(3))
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(5))
                            .operation_attempt_timeout(Duration::from_secs(c.call_timeout_secs.max(1)))
                            .build(),
                    );
                if let Some(url) = &c.endpoint_url {
                    loader = loader.endpoint_url(url);
                }
                let sdk = loader.load().await;
                let mut own_account = String::new();
                if !c.role_name.is_empty() {
                    let identity = aws_sdk_sts::Client::new(&sdk)
                        .get_caller_identity()
                        .send()
                        .await
                        .map_err(|e| cloud_error("sts:GetCallerIdentity", e))?;
                    own_account = identity.account().unwrap_or_default().to_string();
                }
                Ok(Base { sdk, own_account })
            })
            .await
    }

    /// The configuration to call `account`'s APIs with: the worker's own credentials, or the
    /// configured role's in that account.
    async fn account(&self, account: &str) -> Result<SdkConfig> {
        let base = self.base().await?;
        let c = &self.inner.config;
        if c.role_name.is_empty() || account == base.own_account {
            return Ok(base.sdk.clone());
        }
        if let Some((config, expires)) = self
            .inner
            .accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(account)
        {
            if fresh(*expires) {
                return Ok(config.clone());
            }
        }
        let role_arn = format!("arn:aws:iam::{account}:role/{}", c.role_name);
        let out = aws_sdk_sts::Client::new(&base.sdk)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name(&c.session_name)
            .set_external_id(c.external_id.clone())
            .send()
            .await
            .map_err(|e| cloud_error("sts:AssumeRole", e))?;
        let creds = out
            .credentials()
            .ok_or_else(|| failure("sts:AssumeRole", format!("no credentials returned for {role_arn}")))?;
        let (config, expires) = assumed_config(&base.sdk, creds, "argus-worker-assume-role");
        self.inner
            .accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(account.to_string(), (config.clone(), expires));
        Ok(config)
    }

    /// `opts` for pulling from `registry` (a reference's registry host): for an ECR registry,
    /// Basic credentials from GetAuthorizationToken in its account and region, and the
    /// configured endpoint; any other registry keeps `opts` as they are.
    pub async fn registry_options(&self, registry: &str, opts: &RegistryOptions) -> Result<RegistryOptions> {
        let Some((account, region)) = ecr_registry(registry) else {
            return Ok(opts.clone());
        };
        let (username, password) = self.ecr_login(&account, &region).await?;
        let mut out = opts.clone();
        out.username = Some(username);
        out.password = Some(password);
        out.bearer_token = None;
        if let Some(endpoint) = &self.inner.config.ecr_registry_endpoint {
            out.plain_http = endpoint.starts_with("http://");
            out.endpoint = Some(endpoint.clone());
        }
        Ok(out)
    }

    async fn ecr_login(&self, account: &str, region: &str) -> Result<(String, String)> {
        let key = (account.to_string(), region.to_string());
        if let Some(l) = self
            .inner
            .ecr_logins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            if fresh(l.expires) {
                return Ok((l.username.clone(), l.password.clone()));
            }
        }
        let config = self.account(account).await?;
        let ecr = aws_sdk_ecr::Client::from_conf(
            aws_sdk_ecr::config::Builder::from(&config)
                .region(Region::new(region.to_string()))
                .build(),
        );
        let out = ecr
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| cloud_error("ecr:GetAuthorizationToken", e))?;
        let data = out
            .authorization_data()
            .first()
            .ok_or_else(|| failure("ecr:GetAuthorizationToken", "no authorization data returned"))?;
        let token = data.authorization_token().unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| failure("ecr:GetAuthorizationToken", "the token is not base64 text"))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| failure("ecr:GetAuthorizationToken", "the token is not user:password"))?;
        let expires = data.expires_at().and_then(|t| SystemTime::try_from(*t).ok());
        let login = EcrLogin {
            username: username.to_string(),
            password: password.to_string(),
            expires,
        };
        let pair = (login.username.clone(), login.password.clone());
        self.inner
            .ecr_logins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, login);
        Ok(pair)
    }

    /// What the function `arn` runs now: GetFunction, and GetLayerVersionByArn per layer.
    pub async fn lambda_package(&self, arn: &str) -> Result<LambdaPackage> {
        let (region, account) = arn_region_account(arn)
            .ok_or_else(|| Error::Unsupported(format!("{arn:?} is not a Lambda function ARN")))?;
        let config = self.account(&account).await?;
        let lambda = aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(&config)
                .region(Region::new(region))
                .build(),
        );
        let out = lambda
            .get_function()
            .function_name(arn)
            .send()
            .await
            .map_err(|e| cloud_error("lambda:GetFunction", e))?;
        let configuration = out
            .configuration()
            .ok_or_else(|| failure("lambda:GetFunction", "no configuration returned"))?;
        let location = out
            .code()
            .ok_or_else(|| failure("lambda:GetFunction", "no code location returned"))?;
        let code_sha256 = configuration.code_sha256().unwrap_or_default().to_string();
        let code = match (
            location.resolved_image_uri().or(location.image_uri()),
            location.location(),
        ) {
            (Some(image), _) => LambdaCode::Image {
                reference: image.to_string(),
            },
            (None, Some(url)) => LambdaCode::Zip {
                url: url.to_string(),
                code_sha256: code_sha256.clone(),
            },
            (None, None) => return Err(failure("lambda:GetFunction", "neither a package URL nor an image")),
        };
        let arns: Vec<String> = configuration
            .layers()
            .iter()
            .filter_map(|l| l.arn().map(str::to_string))
            .collect();
        let mut layers = Vec::with_capacity(arns.len());
        for layer_arn in &arns {
            let out = lambda
                .get_layer_version_by_arn()
                .arn(layer_arn)
                .send()
                .await
                .map_err(|e| cloud_error("lambda:GetLayerVersionByArn", e))?;
            let content = out
                .content()
                .ok_or_else(|| failure("lambda:GetLayerVersionByArn", format!("{layer_arn}: no content")))?;
            layers.push(LambdaLayer {
                arn: layer_arn.clone(),
                url: content.location().unwrap_or_default().to_string(),
                code_sha256: content.code_sha256().unwrap_or_default().to_string(),
            });
        }
        Ok(LambdaPackage {
            digest: lambda_digest(&code_sha256, &arns),
            code,
            layers,
        })
    }

    /// Downloads `url` into `dest` (blocking), at most `max_download_bytes`, and checks the
    /// content against `code_sha256` (base64 SHA-256, as Lambda states it) when one is given.
    pub fn download(&self, url: &str, dest: &Path, code_sha256: &str) -> Result<()> {
        let c = &self.inner.config;
        let (target, host) = rewrite(url, c.download_endpoint.as_deref())?;
        let timeout = Duration::from_secs(c.call_timeout_secs.max(1));
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout_read(timeout)
            .redirects(5)
            .build();
        let mut req = agent.get(&target);
        if let Some(h) = &host {
            req = req.set("Host", h);
        }
        let shown = url.split('?').next().unwrap_or(url);
        let resp = req.call().map_err(|e| match e {
            ureq::Error::Status(code, _) => Error::Cloud {
                operation: "download".into(),
                denied: code == 401 || code == 403,
                message: format!("{shown}: HTTP {code}"),
            },
            other => failure("download", format!("{shown}: {other}")),
        })?;
        let mut file = std::fs::File::create(dest).map_err(|e| Error::io(dest, e))?;
        let mut body = resp.into_reader().take(c.max_download_bytes + 1);
        let mut hash = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            let n = body
                .read(&mut buf)
                .map_err(|e| failure("download", format!("{shown}: {e}")))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > c.max_download_bytes {
                return Err(Error::limit(
                    shown,
                    format!(
                        "larger than {} bytes (artifact_access.max_download_bytes)",
                        c.max_download_bytes
                    ),
                ));
            }
            hash.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(|e| Error::io(dest, e))?;
        }
        file.sync_all().ok();
        if !code_sha256.is_empty() {
            let got = base64::engine::general_purpose::STANDARD.encode(hash.finalize());
            if got != code_sha256 {
                return Err(Error::malformed(
                    shown,
                    format!("downloaded content has SHA-256 {got}, Lambda states {code_sha256}"),
                ));
            }
        }
        Ok(())
    }
}

/// `url` with its scheme and authority replaced by `endpoint`, and the original host to send
/// as the Host header; `url` unchanged without an endpoint.
fn rewrite(url: &str, endpoint: Option<&str>) -> Result<(String, Option<String>)> {
    let Some(endpoint) = endpoint else {
        return Ok((url.to_string(), None));
    };
    let rest = url
        .split_once("://")
        .map(|(_, r)| r)
        .ok_or_else(|| Error::Unsupported(format!("{url:?} is not an http(s) URL")))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok((
        format!("{}{path}", endpoint.trim_end_matches('/')),
        Some(host.to_string()),
    ))
}

#[cfg(test)]
mod tests;
