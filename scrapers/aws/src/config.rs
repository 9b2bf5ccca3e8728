//! One AWS account's scraper configuration, as written under `scrapers.aws` in graphd.yaml.

use serde::Deserialize;
use std::time::Duration;

/// An account to scrape, in some or all of its regions.
///
/// ```yaml
/// - name: prod                     # the account's name in graphd's scraper status
///   role_arn: arn:aws:iam::111111111111:role/graphd-reader   # default: the default credentials
///   external_id: graphd            # if the role's trust policy asks for one
///   regions: [eu-west-1, us-east-1]   # default: every region enabled for the account
///   interval_secs: 300             # how often every region is scraped again
///   endpoint_url: http://127.0.0.1:5000   # any EC2-compatible endpoint (and STS beside it)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSource {
    pub name: String,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    /// Empty: every region DescribeRegions reports as enabled for the account.
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Resources per page of a listing (5 to 500: the range every Describe call accepts).
    #[serde(default = "default_page_size")]
    pub page_size: i32,
    /// Attempts of a call that is throttled or fails in a way worth retrying, with
    /// exponential back-off between them.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_interval_secs() -> u64 {
    300
}

fn default_page_size() -> i32 {
    500
}

fn default_max_attempts() -> u32 {
    5
}

impl AwsSource {
    /// A source with every default: the default credentials, every enabled region.
    pub fn new(name: impl Into<String>) -> Self {
        AwsSource {
            name: name.into(),
            role_arn: None,
            external_id: None,
            regions: Vec::new(),
            interval_secs: default_interval_secs(),
            endpoint_url: None,
            page_size: default_page_size(),
            max_attempts: default_max_attempts(),
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs.max(1))
    }

    pub(crate) fn page_size(&self) -> i32 {
        self.page_size.clamp(5, 500)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_is_not_written() {
        let source: AwsSource = serde_yaml::from_str("name: prod\nregions: [eu-west-1]\n").unwrap();
        assert_eq!(source, AwsSource { regions: vec!["eu-west-1".into()], ..AwsSource::new("prod") });
        assert_eq!(source.interval(), Duration::from_secs(300));
        let unknown = serde_yaml::from_str::<AwsSource>("name: prod\nrole: x\n").unwrap_err().to_string();
        assert!(unknown.contains("unknown field `role`"), "{unknown}");
    }
}
