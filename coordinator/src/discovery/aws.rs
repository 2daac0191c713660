//! The AWS SDK side of discovery: the base configuration (the standard credential chain, HTTP
//! client, retries, endpoints), entering an account (itself, or by AssumeRole), the clients of
//! one account and region, and the interceptor that counts API call attempts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::config::DiscoveryConfig;
use crate::error::{Error, Result};

/// API call attempts by (service, operation), retries included: what counts against AWS's
/// rate limits.
#[derive(Debug, Default, Clone)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<(String, String), u64>>>,
}

impl CallCounter {
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    fn count(&self, service: &str, operation: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((service.to_string(), operation.to_string())).or_default() += 1;
        crate::telemetry::discovery::api_call(service, operation);
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "argus-call-counter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        match cfg.load::<Metadata>() {
            Some(m) => self.count(m.service(), m.name()),
            None => self.count("unknown", "unknown"),
        }
        Ok(())
    }
}

/// The credentials and settings discovery starts from, shared by every account.
#[derive(Clone)]
pub struct Aws {
    base: SdkConfig,
    pub counter: CallCounter,
    interceptor: SharedInterceptor,
    config: DiscoveryConfig,
    /// The account the base credentials belong to (STS GetCallerIdentity).
    pub own_account: String,
}

/// What the clients of one account are built from: its credentials.
#[derive(Clone)]
pub struct AccountAccess {
    pub account_id: String,
    config: SdkConfig,
}

impl Aws {
    /// Loads the standard credential chain (environment, profile, web identity, container and
    /// instance metadata) and asks STS whose credentials they are.
    pub async fn connect(config: &DiscoveryConfig) -> Result<Aws> {
        // rustls with ring: the TLS stack the rest of the binary already uses.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(config.home_region.clone()))
            .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(config.call_timeout_secs.max(1)))
                    .build(),
            );
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let base = loader.load().await;
        let counter = CallCounter::default();
        let interceptor = SharedInterceptor::new(counter.clone());
        let mut aws = Aws {
            base,
            counter,
            interceptor,
            config: config.clone(),
            own_account: String::new(),
        };
        let sts = aws.sts(&aws.base.clone());
        let identity = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_error("sts:GetCallerIdentity", e))?;
        aws.own_account = identity.account().unwrap_or_default().to_string();
        Ok(aws)
    }

    pub fn account_concurrency(&self) -> usize {
        self.config.account_concurrency.max(1)
    }

    /// The base configuration, for the organization's own calls.
    pub fn home(&self) -> AccountAccess {
        AccountAccess {
            account_id: self.own_account.clone(),
            config: self.base.clone(),
        }
    }

    /// Enters `account_id`: the base credentials for their own account, else the configured role
    /// through STS AssumeRole. An error here is the account's ACCESS_DENIED.
    pub async fn enter(&self, account_id: &str) -> Result<AccountAccess> {
        if account_id == self.own_account {
            return Ok(self.home());
        }
        let role_arn = format!("arn:aws:iam::{account_id}:role/{}", self.config.role_name);
        let out = self
            .sts(&self.base)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name(&self.config.session_name)
            .set_external_id(self.config.external_id.clone())
            .send()
            .await
            .map_err(|e| aws_error("sts:AssumeRole", e))?;
        let c = out.credentials().ok_or_else(|| Error::Aws {
            operation: "sts:AssumeRole",
            code: String::new(),
            message: format!("no credentials returned for {role_arn}"),
        })?;
        let (config, _expiry) = argus_worker::cloud::assumed_config(&self.base, c, "argus-assume-role");
        Ok(AccountAccess {
            account_id: account_id.to_string(),
            config,
        })
    }

    fn sts(&self, config: &SdkConfig) -> aws_sdk_sts::Client {
        let c = aws_sdk_sts::config::Builder::from(config)
            .interceptor(self.interceptor.clone())
            .build();
        aws_sdk_sts::Client::from_conf(c)
    }

    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        let c = aws_sdk_organizations::config::Builder::from(&self.base)
            .interceptor(self.interceptor.clone())
            .build();
        aws_sdk_organizations::Client::from_conf(c)
    }

    pub fn ec2(&self, access: &AccountAccess, region: &str) -> aws_sdk_ec2::Client {
        let c = aws_sdk_ec2::config::Builder::from(&access.config)
            .region(Region::new(region.to_string()))
            .interceptor(self.interceptor.clone())
            .build();
        aws_sdk_ec2::Client::from_conf(c)
    }

    pub fn ecr(&self, access: &AccountAccess, region: &str) -> aws_sdk_ecr::Client {
        let c = aws_sdk_ecr::config::Builder::from(&access.config)
            .region(Region::new(region.to_string()))
            .interceptor(self.interceptor.clone())
            .build();
        aws_sdk_ecr::Client::from_conf(c)
    }

    pub fn lambda(&self, access: &AccountAccess, region: &str) -> aws_sdk_lambda::Client {
        let c = aws_sdk_lambda::config::Builder::from(&access.config)
            .region(Region::new(region.to_string()))
            .interceptor(self.interceptor.clone())
            .build();
        aws_sdk_lambda::Client::from_conf(c)
    }

    pub fn ssm(&self, access: &AccountAccess, region: &str) -> aws_sdk_ssm::Client {
        let c = aws_sdk_ssm::config::Builder::from(&access.config)
            .region(Region::new(region.to_string()))
            .interceptor(self.interceptor.clone())
            .build();
        aws_sdk_ssm::Client::from_conf(c)
    }

    /// The regions to read in one account, sorted: the configured ones, else those EC2 says are
    /// enabled for it (opted-in regions included, disabled ones not).
    pub async fn regions(&self, access: &AccountAccess) -> Result<Vec<String>> {
        if !self.config.regions.is_empty() {
            let mut regions = self.config.regions.clone();
            regions.sort();
            regions.dedup();
            return Ok(regions);
        }
        let out = self
            .ec2(access, &self.config.home_region)
            .describe_regions()
            .send()
            .await
            .map_err(|e| aws_error("ec2:DescribeRegions", e))?;
        let mut regions: Vec<String> = out
            .regions()
            .iter()
            .filter_map(|r| r.region_name().map(str::to_string))
            .collect();
        regions.sort();
        regions.dedup();
        Ok(regions)
    }
}

/// Turns an SDK error into `Error::Aws`, keeping the service's code and message (not the
/// request id, which differs on every call: an account's recorded error stays the same from one
/// cycle to the next while its cause does). A refusal whose body the SDK could not parse (moto
/// wraps query-protocol errors differently from AWS) is named by its HTTP status.
pub fn aws_error<E>(operation: &'static str, e: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16()).filter(|s| *s >= 400);
    let code = match (e.code(), status) {
        (Some(c), _) => c.to_string(),
        (None, Some(s)) => format!("HTTP {s}"),
        (None, None) => String::new(),
    };
    let message = match (e.message(), status) {
        (Some(m), _) => m.to_string(),
        (None, Some(s)) => format!("the service answered {s} with no error it could read"),
        (None, None) => DisplayErrorContext(&e).to_string(),
    };
    crate::telemetry::discovery::error(operation, &code);
    Error::Aws {
        operation,
        code,
        message,
    }
}
