//! Reaching an account: its SDK configuration (credentials, endpoint, retries), who it is, and
//! which regions to scrape.

use crate::AwsSource;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::SharedCredentialsProvider;
use aws_sdk_ec2::error::DisplayErrorContext;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// Where the account is asked who it is and which regions it has, when no region is configured
/// and the environment names none.
const HOME_REGION: &str = "us-east-1";

/// An account, reached.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub regions: Vec<String>,
    config: SdkConfig,
}

impl Account {
    /// A client of EC2 in `region`.
    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let config = aws_sdk_ec2::config::Builder::from(&self.config).region(Region::new(region.to_owned())).build();
        aws_sdk_ec2::Client::from_conf(config)
    }
}

/// Connects to the account of `source`: credentials (assuming its role if it has one), its
/// id, and its regions.
pub async fn reach(source: &AwsSource) -> Result<Account, String> {
    let config = sdk_config(source).await;
    let identity = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| format!("who am I (sts:GetCallerIdentity): {}", DisplayErrorContext(e)))?;
    let id = identity.account().ok_or("sts:GetCallerIdentity named no account")?.to_owned();
    let regions = if source.regions.is_empty() { enabled_regions(&config).await? } else { source.regions.clone() };
    Ok(Account { id, regions, config })
}

async fn sdk_config(source: &AwsSource) -> SdkConfig {
    // rustls on ring, the TLS provider kube uses: one provider in the process.
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(source.max_attempts.max(1)));
    if let Some(region) = source.regions.first() {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &source.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let mut base = loader.load().await;
    if base.region().is_none() {
        base = base.into_builder().region(Region::from_static(HOME_REGION)).build();
    }
    let Some(role_arn) = &source.role_arn else { return base };
    let mut role = AssumeRoleProvider::builder(role_arn).session_name("graphd").configure(&base);
    if let Some(external_id) = &source.external_id {
        role = role.external_id(external_id);
    }
    let credentials = SharedCredentialsProvider::new(role.build().await);
    base.into_builder().credentials_provider(credentials).build()
}

async fn enabled_regions(config: &SdkConfig) -> Result<Vec<String>, String> {
    let answer = aws_sdk_ec2::Client::new(config)
        .describe_regions()
        .send()
        .await
        .map_err(|e| format!("listing the account's regions (ec2:DescribeRegions): {}", DisplayErrorContext(e)))?;
    let mut regions: Vec<String> = answer.regions().iter().filter_map(|r| r.region_name().map(str::to_owned)).collect();
    regions.sort();
    Ok(regions)
}
