//! One account: reach it, then scrape every region at once, again at every interval.

use crate::client::reach;
use crate::region::{Failure, RegionScraper};
use crate::{AwsSource, Event};
use graphd_core::scrape::{Mode, StatusBoard};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// Retries of an account that cannot be reached start at this delay and double up to the
/// scrape interval.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Attempts to reach an account in a [`Mode::Once`] scrape before giving up on it.
const ONCE_ATTEMPTS: u32 = 3;

/// Scrapes the account of `source` into `events`, its status on `board`: a row named after
/// the source for the account, and one per region (`name/region`). In [`Mode::Once`] it
/// returns after one scrape of every region; in [`Mode::Watch`] it scrapes again every
/// interval, or as soon as `rescrape` is notified, until the receiver is dropped.
pub async fn run_account(
    source: AwsSource,
    mode: Mode,
    events: mpsc::Sender<Event>,
    board: Arc<StatusBoard>,
    rescrape: Arc<Notify>,
) {
    let status = board.row("aws", &source.name);
    let mut regions: BTreeMap<String, RegionScraper> = BTreeMap::new();
    let mut retry = FIRST_RETRY;
    let mut failed_attempts = 0;
    loop {
        let (reached, pause) = match reach(&source).await {
            Err(error) => {
                tracing::warn!(source = %source.name, %error, "cannot reach the AWS account, retrying");
                status.error(format!("{}: {error}", source.name));
                failed_attempts += 1;
                if mode == Mode::Once && failed_attempts >= ONCE_ATTEMPTS {
                    return;
                }
                let pause = retry;
                retry = (retry * 2).min(source.interval());
                (false, pause)
            }
            Ok(account) => {
                retry = FIRST_RETRY;
                failed_attempts = 0;
                let id: Arc<str> = account.id.clone().into();
                let announced = Event::Account { account: Arc::clone(&id), regions: account.regions.clone() };
                if events.send(announced).await.is_err() {
                    return;
                }
                for region in &account.regions {
                    regions.entry(region.clone()).or_insert_with(|| {
                        status.resources_added(1);
                        let row = board.row("aws", &format!("{}/{region}", source.name));
                        RegionScraper::new(
                            Arc::clone(&id),
                            region.as_str().into(),
                            source.page_size(),
                            events.clone(),
                            row,
                        )
                    });
                }
                let scrapes = regions
                    .values_mut()
                    .filter(|r| account.regions.iter().any(|name| **name == *r.region))
                    .map(|region| region.scrape(&account));
                for scraped in futures::future::join_all(scrapes).await {
                    match scraped {
                        Ok(scraped) => {
                            status.objects_seen(scraped.objects);
                            status.listed(scraped.first);
                        }
                        Err(Failure::Closed) => return,
                        Err(Failure::Call(error)) => status.error(error),
                    }
                }
                (true, source.interval())
            }
        };
        if mode == Mode::Once && reached {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = rescrape.notified() => tracing::info!(source = %source.name, "rescrape requested"),
            _ = events.closed() => return,
        }
    }
}
