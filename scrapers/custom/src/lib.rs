//! Custom sources: items from JSON or YAML files (a folder, watched for changes), from HTTP
//! endpoints (polled, with headers and a bearer token from the environment) and from a
//! command's output, each record mapped to an item by CEL expressions (see [`config`]), and
//! linked to everything else by the same rules as any item.
//!
//! Each source runs on its own ([`run_source`]) and reports a [`Event::Begin`] … [`Event::End`]
//! frame per reading. Only a reading where every part was read and every record mapped sends
//! its end, so the consumer tombstones what a source no longer lists only when the listing
//! is known to be whole: a broken file, a failed request or one bad record loses nothing.

pub mod config;
mod input;
mod mapping;

pub use config::{CustomSource, Input};
pub use input::parse_documents;

use graphd_core::scrape::{Mode, ScrapeStatus};
use graphd_core::ItemWrite;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// What a custom source tells its consumer, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A reading of `source` starts.
    Begin { source: Arc<str> },
    /// One record, as an item.
    Item { source: Arc<str>, item: Box<ItemWrite> },
    /// A record that could not be mapped: counted and left out.
    Skipped { source: Arc<str>, record: String, reason: String },
    /// The reading that began last was whole: whatever the source's items were that it did
    /// not list is gone.
    End { source: Arc<str> },
}

/// Reads `source` into `events`, its status in `status`: once in [`Mode::Once`]; in
/// [`Mode::Watch`] again every interval (files: whenever the folder changes), or as soon as
/// `rescrape` is notified, until the receiver is dropped.
pub async fn run_source(
    source: CustomSource,
    mode: Mode,
    events: mpsc::Sender<Event>,
    status: Arc<ScrapeStatus>,
    rescrape: Arc<Notify>,
) {
    let name: Arc<str> = source.name.as_str().into();
    let http = match input::HttpClient::new() {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(source = %name, %error, "cannot read the source");
            status.error(error);
            return;
        }
    };
    status.resources_added(1);
    let mut first = true;
    loop {
        let seen = match &source.input {
            Input::Files(files) => Some(input::files_state(files)),
            Input::Http(_) | Input::Command(_) => None,
        };
        match list(&source, &name, &http, &events).await {
            Err(Closed) => return,
            Ok(Listed { records, problems }) => {
                status.objects_seen(records as u64);
                if problems.is_empty() {
                    status.listed(first);
                    first = false;
                } else {
                    tracing::warn!(source = %name, problems = ?problems, "an incomplete reading: nothing is taken for gone");
                    status.error(problems.join("; "));
                }
            }
        }
        if mode == Mode::Once {
            return;
        }
        let wait = async {
            match (&source.input, &seen) {
                // A folder is looked at every pause, and read again when it changed.
                (Input::Files(files), Some(seen)) => loop {
                    tokio::time::sleep(source.pause()).await;
                    if input::files_state(files) != *seen {
                        break;
                    }
                },
                _ => tokio::time::sleep(source.pause()).await,
            }
        };
        tokio::select! {
            _ = wait => {}
            _ = rescrape.notified() => tracing::info!(source = %name, "rescrape requested"),
            _ = events.closed() => return,
        }
    }
}

/// The consumer is gone.
struct Closed;

struct Listed {
    records: usize,
    /// Parts that could not be read and records that could not be mapped: the reading is not
    /// whole when there are any.
    problems: Vec<String>,
}

/// One reading of `source`: its records sent as items, framed by begin and (when whole) end.
async fn list(
    source: &CustomSource,
    name: &Arc<str>,
    http: &input::HttpClient,
    events: &mpsc::Sender<Event>,
) -> Result<Listed, Closed> {
    let send = |event| async { events.send(event).await.map_err(|_| Closed) };
    let reading = input::read(&source.input, http).await;
    let mut problems = reading.failures;
    send(Event::Begin { source: Arc::clone(name) }).await?;
    let mut records = 0;
    for (origin, document) in &reading.documents {
        let listed = match &source.records {
            None => Ok(document.clone()),
            Some(records) => records.0.json(document).map_err(|e| format!("records: {e}")),
        };
        let listed = match listed {
            Ok(Value::Array(list)) => list,
            Ok(Value::Null) => Vec::new(),
            Ok(one) => vec![one],
            Err(reason) => {
                problems.push(format!("{origin}: {reason}"));
                continue;
            }
        };
        for (index, record) in listed.iter().enumerate() {
            records += 1;
            match source.map.item(&source.name, record) {
                Ok(item) => send(Event::Item { source: Arc::clone(name), item: Box::new(item) }).await?,
                Err(reason) => {
                    let record = format!("{origin} record {index}");
                    problems.push(format!("{record}: {reason}"));
                    send(Event::Skipped { source: Arc::clone(name), record, reason }).await?;
                }
            }
        }
    }
    if problems.is_empty() {
        send(Event::End { source: Arc::clone(name) }).await?;
    }
    Ok(Listed { records, problems })
}
