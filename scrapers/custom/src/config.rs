//! A custom source's configuration, as written under `scrapers.custom` in graphd.yaml.
//!
//! ```yaml
//! - name: catalog                   # the source: items are keyed `custom:catalog/<id>`
//!   files: {path: ./catalog}        # a folder of *.json / *.yaml / *.yml files, or one file
//!   # http: {url: https://cmdb.example.com/api/services, headers: {Accept: application/json},
//!   #        bearer_token_env: CMDB_TOKEN}
//!   # command: {run: [./list-services, --json]}
//!   interval_secs: 60               # how often http and command sources are read again
//!   records: object.services        # CEL: the records of one document (default: the document,
//!                                   # or each element when it is a list)
//!   map:                            # CEL over each record (`object`)
//!     id: object.id                 # required: with the source, the item's key
//!     kind: "'Custom::Service'"     # required: Domain::Kind (a CEL string literal here)
//!     name: object.name             # default: the id
//!     namespace: object.team
//!     labels: object.labels         # a map; values that are not strings are written out
//!     health: "object.status == 'up' ? 'Healthy' : 'Unhealthy'"   # Healthy | Warning | Unhealthy | Unknown
//!     status: object.status
//!     ready: "object.status == 'up'"
//!     cluster: object.cluster       # scope: cluster, account, region
//! ```

use graphd_rules::expression::Expression;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// One custom source: where its documents come from, and how records become items.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawSource")]
pub struct CustomSource {
    pub name: String,
    pub input: Input,
    pub interval_secs: u64,
    pub records: Option<Cel>,
    pub map: Mapping,
}

/// Where a source's documents come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Files(FilesInput),
    Http(HttpInput),
    Command(CommandInput),
}

/// JSON or YAML files: every `*.json`, `*.yaml` and `*.yml` of a folder (not its subfolders),
/// or one file. The folder is looked at every `watch_secs`; a change is a new listing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesInput {
    pub path: PathBuf,
    #[serde(default = "default_watch_secs")]
    pub watch_secs: u64,
}

/// An HTTP(S) endpoint answering JSON or YAML, read with GET every interval.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpInput {
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The environment variable holding a bearer token, sent as `Authorization: Bearer …`.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

/// A program whose standard output is JSON or YAML, run every interval (no shell).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandInput {
    /// The program and its arguments.
    pub run: Vec<String>,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

/// How a record becomes an item: one CEL expression per field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub id: Cel,
    pub kind: Cel,
    pub name: Option<Cel>,
    pub namespace: Option<Cel>,
    pub labels: Option<Cel>,
    pub health: Option<Cel>,
    pub status: Option<Cel>,
    pub ready: Option<Cel>,
    pub cluster: Option<Cel>,
    pub account: Option<Cel>,
    pub region: Option<Cel>,
}

/// A CEL expression, compiled when the configuration is read: one that does not compile is a
/// configuration error naming its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cel(pub Expression);

impl<'de> Deserialize<'de> for Cel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Expression::compile(&text).map(Cel).map_err(serde::de::Error::custom)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: String,
    files: Option<FilesInput>,
    http: Option<HttpInput>,
    command: Option<CommandInput>,
    #[serde(default = "default_interval_secs")]
    interval_secs: u64,
    records: Option<Cel>,
    map: Mapping,
}

impl TryFrom<RawSource> for CustomSource {
    type Error = String;

    fn try_from(raw: RawSource) -> Result<Self, String> {
        let input = match (raw.files, raw.http, raw.command) {
            (Some(files), None, None) => Input::Files(files),
            (None, Some(http), None) => Input::Http(http),
            (None, None, Some(command)) if command.run.is_empty() => {
                return Err(format!("source {}: command.run is empty: name the program to run", raw.name))
            }
            (None, None, Some(command)) => Input::Command(command),
            _ => return Err(format!("source {}: give exactly one of files, http or command", raw.name)),
        };
        if raw.name.is_empty() || raw.name.contains('/') {
            return Err(format!("source name {:?}: not empty, and no '/'", raw.name));
        }
        Ok(CustomSource { name: raw.name, input, interval_secs: raw.interval_secs, records: raw.records, map: raw.map })
    }
}

fn default_interval_secs() -> u64 {
    60
}

fn default_watch_secs() -> u64 {
    2
}

fn default_timeout_secs() -> u64 {
    30
}

impl CustomSource {
    /// How long to wait before reading the source again: the folder poll for files, the
    /// interval otherwise.
    pub fn pause(&self) -> Duration {
        let secs = match &self.input {
            Input::Files(files) => files.watch_secs,
            Input::Http(_) | Input::Command(_) => self.interval_secs,
        };
        Duration::from_secs(secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CustomSource, String> {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_each_input() {
        let files = parse("name: c\nfiles: {path: /srv/catalog}\nmap: {id: object.id, kind: \"'Custom::Service'\"}\n");
        let files = files.unwrap();
        assert_eq!(files.input, Input::Files(FilesInput { path: "/srv/catalog".into(), watch_secs: 2 }));
        assert_eq!(files.pause(), Duration::from_secs(2));
        let http = parse(
            "name: c\nhttp: {url: 'http://x', bearer_token_env: TOKEN}\ninterval_secs: 5\nmap: {id: object.id, kind: \"'Custom::Service'\"}\n",
        )
        .unwrap();
        assert!(matches!(&http.input, Input::Http(h) if h.bearer_token_env.as_deref() == Some("TOKEN")));
        assert_eq!(http.pause(), Duration::from_secs(5));
    }

    #[test]
    fn names_what_is_wrong() {
        let both =
            parse("name: c\nfiles: {path: a}\ncommand: {run: [ls]}\nmap: {id: object.id, kind: \"'Custom::X'\"}\n");
        assert!(both.unwrap_err().contains("exactly one of files, http or command"));
        let bad_cel = parse("name: c\nfiles: {path: a}\nmap: {id: object.id(, kind: \"'Custom::X'\"}\n").unwrap_err();
        assert!(bad_cel.contains("CEL does not compile"), "{bad_cel}");
        let no_kind = parse("name: c\nfiles: {path: a}\nmap: {id: object.id}\n").unwrap_err();
        assert!(no_kind.contains("missing field `kind`"), "{no_kind}");
        let empty = parse("name: c\ncommand: {run: []}\nmap: {id: object.id, kind: \"'Custom::X'\"}\n").unwrap_err();
        assert!(empty.contains("command.run is empty"), "{empty}");
    }
}
