//! `graphd.yaml`: what `graphd serve` runs with. Every field has a default, so an empty file
//! (or none) is a working configuration; an unknown or malformed field is an error that names
//! it. Relative paths are taken from the folder of the config file.
//!
//! ```yaml
//! data_dir: graphd-data            # the RocksDB store
//! listen: 127.0.0.1:7439           # gRPC
//! metrics_listen: 127.0.0.1:9439   # Prometheus /metrics; omit to serve none
//! rules: [rules/team.yaml]         # on top of the built-in rules
//! retention:
//!   keep_deleted: 7d               # tombstones older than this are purged
//!   keep_changes: 90d              # change records older than this are purged (default: kept)
//!   keep_changes_of: {Event: 14d}  # per change type, over keep_changes
//!   purge_every: 1h
//! limits:
//!   max_related: 100000            # a related walk returning more is RESOURCE_EXHAUSTED
//!   max_message_bytes: 16777216    # largest gRPC message accepted
//! scrapers:
//!   kubernetes:                    # one entry per cluster
//!     - name: prod-eu              # the cluster's name in graphd
//!       context: prod-eu-admin     # of $KUBECONFIG or ~/.kube/config (or `kubeconfig: PATH`)
//!   aws:                           # one entry per account
//!     - name: prod                 # the account's name in the scraper status
//!       role_arn: arn:aws:iam::111111111111:role/graphd-reader   # or the default credentials
//!       regions: [eu-west-1]       # default: every enabled region
//!   custom:                        # files, HTTP endpoints, commands (see graphd-scrape-custom)
//!     - name: catalog              # the source: items are keyed custom:catalog/<id>
//!       files: {path: catalog}     # or http: {url: …}, or command: {run: [prog, arg]}
//!       map: {id: object.id, kind: "'Custom::Service'", name: object.name}   # CEL per field
//! stream:                          # replication (see crate::stream): consume what agents publish
//!   nats: {servers: [nats://10.0.0.1:4222], consumer: replica-a}
//! ```

use crate::server::Limits;
use anyhow::Context;
use graphd_core::{parse_duration, ChangeType};
use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    pub rules: Vec<PathBuf>,
    pub retention: Retention,
    pub limits: Limits,
    pub scrapers: Scrapers,
    /// Replication: consume a NATS JetStream stream that agents publish to.
    pub stream: Option<crate::stream::StreamConfig>,
}

/// The scrapers `graphd serve` runs and `graphd scrape --once` runs once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scrapers {
    pub kubernetes: Vec<graphd_scrape_kubernetes::KubernetesSource>,
    pub aws: Vec<graphd_scrape_aws::AwsSource>,
    pub custom: Vec<graphd_scrape_custom::CustomSource>,
}

impl Scrapers {
    pub fn is_empty(&self) -> bool {
        self.kubernetes.is_empty() && self.aws.is_empty() && self.custom.is_empty()
    }

    /// Takes the relative paths of these scrapers (kubeconfigs, custom sources' files) from
    /// `base`, the folder of the file they were read from.
    pub fn resolve_paths(&mut self, base: &Path) {
        for cluster in &mut self.kubernetes {
            cluster.kubeconfig = cluster.kubeconfig.as_ref().map(|k| base.join(k));
        }
        for source in &mut self.custom {
            if let graphd_scrape_custom::Input::Files(files) = &mut source.input {
                files.path = base.join(&files.path);
            }
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            listen: SocketAddr::from(([127, 0, 0, 1], 7439)),
            metrics_listen: None,
            rules: Vec::new(),
            retention: Retention::default(),
            limits: Limits::default(),
            scrapers: Scrapers::default(),
            stream: None,
        }
    }
}

/// Where the store lives when neither `--data-dir` nor a config says.
pub const DEFAULT_DATA_DIR: &str = "graphd-data";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    #[serde(deserialize_with = "duration")]
    pub keep_deleted: Duration,
    /// Change records of a type without a bound of its own; none: kept as long as their item.
    #[serde(deserialize_with = "optional_duration")]
    pub keep_changes: Option<Duration>,
    /// By change type (`Event`, `Updated`, …).
    #[serde(deserialize_with = "durations_by_change_type")]
    pub keep_changes_of: Vec<(ChangeType, Duration)>,
    #[serde(deserialize_with = "duration")]
    pub purge_every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_deleted: Duration::from_secs(7 * 86_400),
            keep_changes: None,
            keep_changes_of: Vec::new(),
            purge_every: Duration::from_secs(3_600),
        }
    }
}

impl Retention {
    pub fn changes(&self) -> graphd_store::ChangeRetention {
        graphd_store::ChangeRetention { default: self.keep_changes, by_type: self.keep_changes_of.clone() }
    }
}

impl Config {
    /// Reads `path`; errors name the file and the field (`retention.keep_deleted`).
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut config = Config::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if config.stream.as_ref().is_some_and(|s| s.nats.consumer.is_none()) {
            anyhow::bail!("{}: stream.nats.consumer: missing; name this replica's durable consumer", path.display());
        }
        let base = path.parent().unwrap_or(Path::new("."));
        config.data_dir = base.join(&config.data_dir);
        config.rules = config.rules.iter().map(|r| base.join(r)).collect();
        config.scrapers.resolve_paths(base);
        Ok(config)
    }

    /// Parses YAML text; an empty text is the default configuration.
    pub fn parse(text: &str) -> Result<Config, String> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        parse_yaml(text)
    }
}

/// Parses a YAML configuration; an error starts with the path of the field it is about
/// (`retention.keep_deleted: …`).
pub fn parse_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner().to_string();
        if field == "." {
            return inner;
        }
        // serde_yaml starts its message with the enclosing mapping (`retention: …`); the
        // full path of the field says it better.
        let message = match inner.split_once(": ") {
            Some((prefix, rest)) if !prefix.contains(' ') && field.starts_with(prefix) => rest,
            _ => inner.as_str(),
        };
        format!("{field}: {message}")
    })
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

pub(crate) fn optional_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    duration(deserializer).map(Some)
}

fn durations_by_change_type<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(ChangeType, Duration)>, D::Error> {
    let map = std::collections::BTreeMap::<String, String>::deserialize(deserializer)?;
    map.iter()
        .map(|(name, text)| {
            let change_type = ChangeType::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = ChangeType::ALL.iter().map(|t| t.as_str()).collect();
                format!("{name:?} is no change type; one of {}", known.join(", "))
            });
            let keep = parse_duration(text).map_err(|e| format!("{name}: {e}"));
            Ok((change_type?, keep?))
        })
        .collect::<Result<_, String>>()
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_default() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
        assert_eq!(Config::parse("# nothing yet\n").unwrap(), Config::default());
    }

    #[test]
    fn the_shipped_example_is_the_default_but_for_metrics() {
        let shipped = Config::parse(include_str!("../../../deploy/graphd.yaml")).unwrap();
        let metrics_listen = Some(SocketAddr::from(([127, 0, 0, 1], 9439)));
        let data_dir = PathBuf::from("../graphd-data");
        assert_eq!(shipped, Config { metrics_listen, data_dir, ..Config::default() });
    }

    #[test]
    fn every_field_is_read() {
        let text = "data_dir: /var/lib/graphd\nlisten: 0.0.0.0:7000\nmetrics_listen: 0.0.0.0:9000\n\
                    rules: [a.yaml]\nretention: {keep_deleted: 30d, purge_every: 10m, keep_changes: 90d, \
                    keep_changes_of: {Event: 14d}}\n\
                    limits: {max_related: 50, max_message_bytes: 1024}\n";
        let config = Config::parse(text).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/graphd"));
        assert_eq!(config.listen.port(), 7000);
        assert_eq!(config.metrics_listen.map(|a| a.port()), Some(9000));
        assert_eq!(config.retention.keep_deleted, Duration::from_secs(30 * 86_400));
        assert_eq!(config.retention.purge_every, Duration::from_secs(600));
        assert_eq!(config.retention.keep_changes, Some(Duration::from_secs(90 * 86_400)));
        assert_eq!(config.retention.keep_changes_of, [(ChangeType::Event, Duration::from_secs(14 * 86_400))]);
        assert_eq!((config.limits.max_related, config.limits.max_message_bytes), (50, 1024));
    }

    #[test]
    fn errors_name_the_field() {
        let bad_duration = Config::parse("retention:\n  keep_deleted: 7x\n").unwrap_err();
        assert!(bad_duration.starts_with("retention.keep_deleted: "), "{bad_duration}");
        assert!(bad_duration.contains("the unit is s, m, h or d"), "{bad_duration}");
        let unknown = Config::parse("limits:\n  max_relate: 5\n").unwrap_err();
        assert!(unknown.starts_with("limits.max_relate: unknown field `max_relate`"), "{unknown}");
        assert!(unknown.contains("max_related"), "suggests the known fields: {unknown}");
        let aws = Config::parse("scrapers:\n  aws:\n    - name: prod\n      regions: eu-west-1\n").unwrap_err();
        assert!(aws.starts_with("scrapers.aws[0].regions: "), "{aws}");
        let stream = Config::parse("stream:\n  nats: {servers: [nats://a:4222], consumer: r, max_age: 7d}\n").unwrap();
        let nats = stream.stream.unwrap().nats;
        assert_eq!((nats.replicas, nats.max_age), (3, Some(Duration::from_secs(7 * 86_400))));
        let bad_age = Config::parse("stream:\n  nats: {servers: [n], max_age: a week}\n").unwrap_err();
        assert!(bad_age.starts_with("stream.nats.max_age: "), "{bad_age}");
        let custom = "scrapers:\n  custom:\n    - name: c\n      files: {path: x}\n      map: {id: object.id(, kind: \"'Custom::S'\"}\n";
        let custom = Config::parse(custom).unwrap_err();
        assert!(custom.starts_with("scrapers.custom[0].map.id: CEL does not compile"), "{custom}");
        let bad_type = Config::parse("retention:\n  keep_changes_of: {Evnt: 1d}\n").unwrap_err();
        assert!(bad_type.starts_with("retention.keep_changes_of: "), "{bad_type}");
        assert!(bad_type.contains("\"Evnt\" is no change type; one of Created"), "{bad_type}");
        let bad_addr = Config::parse("listen: localhost\n").unwrap_err();
        assert!(bad_addr.starts_with("listen: "), "{bad_addr}");
    }

    #[test]
    fn relative_paths_are_taken_from_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("graphd.yaml");
        std::fs::write(&path, "data_dir: data\nrules: [rules/mine.yaml]\n").unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.data_dir, dir.path().join("data"));
        assert_eq!(config.rules, vec![dir.path().join("rules/mine.yaml")]);
        let missing = Config::load(&dir.path().join("nope.yaml")).unwrap_err();
        assert!(format!("{missing:#}").contains("nope.yaml"), "{missing:#}");
    }
}
