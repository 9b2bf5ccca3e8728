//! Custom-source events into the store: each record's item as it arrives; each whole reading
//! of a source is a resync of that source.

use super::{Sink, Writer};
use graphd_core::ExternalKey;
use graphd_scrape_custom::Event;
use graphd_store::{Engine, KeyScope, Op, Resync, Store};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Turns custom-source [`Event`]s into store writes.
#[derive(Debug)]
pub struct CustomSink<E: Engine> {
    writer: Writer<E>,
    /// Keys listed by each reading under way, by source.
    readings: HashMap<Arc<str>, HashSet<ExternalKey>>,
}

impl<E: Engine> Sink<E> for CustomSink<E> {
    type Event = Event;

    fn writer(&mut self) -> &mut Writer<E> {
        &mut self.writer
    }

    fn handle(&mut self, event: Event) -> anyhow::Result<()> {
        match event {
            Event::Begin { source } => {
                self.readings.insert(source, HashSet::new());
            }
            Event::Item { source, item } => {
                self.writer.report.objects += 1;
                if let Some(listed) = self.readings.get_mut(&source) {
                    listed.insert(item.key.clone());
                }
                self.writer.push([Op::Upsert(*item)])?;
            }
            Event::Skipped { source, record, reason } => self.writer.skip(format!("{source}: {record}"), reason),
            Event::End { source } => {
                self.writer.report.listings += 1;
                if let Some(listed) = self.readings.remove(&source) {
                    let resync = Resync { scope: KeyScope::Custom { source: source.to_string() }, kinds: Vec::new() };
                    self.writer.resync(&resync, &listed, &format!("custom/{source}"))?;
                }
            }
        }
        Ok(())
    }
}

impl<E: Engine> CustomSink<E> {
    pub fn new(store: Arc<Store<E>>) -> Self {
        CustomSink { writer: Writer::new(store, "custom"), readings: HashMap::new() }
    }
}
