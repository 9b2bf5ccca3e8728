//! `graphd query …`: ask a running server (`--addr`) or read a data dir directly.
//!
//! Either way the questions go through the gRPC API: a data dir is opened read-only (so this
//! works while a server holds it) and served inside this process, over an in-memory pipe.

use super::Output;
use crate::render::{self, health_word, item_json, item_row, ITEM_COLUMNS};
use clap::{Args, Subcommand, ValueEnum};
use graphd_client::reference::parse_kind;
use graphd_client::{pb, Client, Narrowing};
use graphd_core::parse_duration;
use graphd_core::Timestamp;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// A running graphd to ask (`host:port`); without it, the store in --data-dir.
    #[arg(long, global = true, env = "GRAPHD_ADDR")]
    pub addr: Option<String>,
    #[command(subcommand)]
    pub command: QueryCommand,
}

#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// One item, with its document.
    Get(ItemArgs),
    /// Items related to one item, breadth-first in one direction (or both, separately).
    Related(RelatedArgs),
    /// The chain(s) of ancestors of one item, up to cluster and account.
    WalkUp(ItemArgs),
    /// Items by scope, kind, labels and health.
    List(ListArgs),
    /// Live items per health in a scope.
    Counts(ScopeArgs),
    /// The shortest path between two items, edges followed either way.
    Path(PathArgs),
    /// What happened to one item (and, with --depth, to what is around it), newest first.
    Changes(ChangesArgs),
    /// The scrapers a server runs: per cluster, resources, objects, errors, last full sync.
    Scrapers(OutputArgs),
    /// Ask a running server (--addr) to scrape an AWS source again now, in every region, or to
    /// read a custom source again.
    Rescrape(RescrapeArgs),
    /// Ask a running server (--addr) to write a checkpoint of its store: a new replica starts
    /// from it.
    Checkpoint(CheckpointArgs),
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// table (the default) or json.
    #[arg(short, long, value_enum)]
    pub output: Option<Output>,
}

#[derive(Debug, Args)]
pub struct ItemArgs {
    /// `pod/NAMESPACE/NAME`, `Kubernetes::Pod/NAMESPACE/NAME`, `node/NAME`, `i-0abc123`, or `id:42`.
    pub item: String,
    #[command(flatten)]
    pub narrowing: NarrowingArgs,
    #[arg(short, long, value_enum)]
    pub output: Option<Output>,
}

#[derive(Debug, Args)]
pub struct NarrowingArgs {
    #[arg(long)]
    pub cluster: Option<String>,
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    /// Include tombstoned items and edges.
    #[arg(long)]
    pub include_deleted: bool,
    /// The graph as it was then: a time ago (`2h`, `30m`) or a time (`2026-11-27T08:00:00Z`).
    #[arg(long, value_parser = parse_as_of)]
    pub as_of: Option<Timestamp>,
}

impl NarrowingArgs {
    fn narrowing(&self) -> Narrowing {
        Narrowing {
            cluster: self.cluster.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
            include_deleted: self.include_deleted,
            as_of: self.as_of.map_or(0, |at| at.0),
        }
    }
}

/// `--as-of`: a duration before now, or an RFC 3339 time.
fn parse_as_of(text: &str) -> Result<Timestamp, String> {
    if let Ok(ago) = parse_duration(text) {
        return Ok(Timestamp::now().minus(ago));
    }
    graphd_rules::health::time::parse_rfc3339(text)
        .ok_or_else(|| format!("{text:?}: expected a time ago (2h) or a time (2026-11-27T08:00:00Z)"))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DirectionArg {
    Outgoing,
    Incoming,
    Both,
}

#[derive(Debug, Args)]
pub struct RelatedArgs {
    #[command(flatten)]
    pub item: ItemArgs,
    #[arg(long, value_enum, default_value = "both")]
    pub direction: DirectionArg,
    #[arg(long, default_value_t = 1)]
    pub depth: u32,
    /// Follow only these relations (repeatable).
    #[arg(long = "relation")]
    pub relations: Vec<String>,
    /// Enter only items of these kinds (repeatable).
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
    /// Refuse walks that would return more items than this.
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct ScopeArgs {
    #[arg(long)]
    pub cluster: Option<String>,
    #[arg(long)]
    pub namespace: Option<String>,
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub kind: Option<String>,
}

impl ScopeArgs {
    fn filter(&self) -> pb::ScopeFilter {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        pb::ScopeFilter {
            cluster: text(&self.cluster),
            namespace: text(&self.namespace),
            account: text(&self.account),
            region: text(&self.region),
        }
    }

    fn kind(&self) -> anyhow::Result<String> {
        Ok(self.kind.as_deref().map(parse_kind).transpose()?.unwrap_or_default())
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// `key=value`, repeatable; all must match.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Healthy, Warning, Unhealthy or Unknown.
    #[arg(long)]
    pub health: Option<String>,
    #[arg(long)]
    pub include_deleted: bool,
    /// The items alive then: a time ago (`2h`) or a time (`2026-11-27T08:00:00Z`).
    #[arg(long, value_parser = parse_as_of)]
    pub as_of: Option<Timestamp>,
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// The cursor printed at the end of the previous page.
    #[arg(long)]
    pub cursor: Option<String>,
    #[arg(short, long, value_enum)]
    pub output: Option<Output>,
}

#[derive(Debug, Args)]
pub struct PathArgs {
    /// Where the path starts (named as for `get`).
    pub from: String,
    /// Where it ends.
    pub to: String,
    #[command(flatten)]
    pub narrowing: NarrowingArgs,
    /// Follow only these relations (repeatable).
    #[arg(long = "relation")]
    pub relations: Vec<String>,
    /// At most this many edges (0: the server's maximum).
    #[arg(long, default_value_t = 0)]
    pub max_depth: u32,
    #[arg(short, long, value_enum)]
    pub output: Option<Output>,
}

#[derive(Debug, Args)]
pub struct ChangesArgs {
    #[command(flatten)]
    pub item: ItemArgs,
    /// Also the changes of every item within this many steps, either way [default: 0, or 3
    /// with --recursive].
    #[arg(long)]
    pub depth: Option<u32>,
    /// Also the changes of what is related to the item (to --depth, 3 unless given).
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// Only changes newer than this: 90s, 30m, 2h, 7d.
    #[arg(long, value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Only these types (repeatable): Created, Updated, Deleted, Restored, HealthChanged,
    /// ImageDigestChanged, ScaledUp, ScaledDown, StateChanged, Event.
    #[arg(long = "type")]
    pub types: Vec<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

impl ChangesArgs {
    /// How far from the item changes are gathered.
    fn depth(&self) -> u32 {
        self.depth.unwrap_or(if self.recursive { 3 } else { 0 })
    }
}

#[derive(Debug, Args)]
pub struct RescrapeArgs {
    /// The AWS or custom source's name, as `graphd query scrapers` lists it.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// A directory on the server's machine that does not exist yet.
    pub dir: String,
}

pub fn run(data_dir: &Path, args: &QueryArgs) -> anyhow::Result<()> {
    if matches!(args.command, QueryCommand::Checkpoint(_)) && args.addr.is_none() {
        anyhow::bail!(
            "checkpoint asks a running server: give its --addr (a stopped store's data dir can simply be copied)"
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut client = match &args.addr {
            Some(addr) => Client::connect(addr).await?,
            None => local_client(data_dir).await?,
        };
        let text = answer(&mut client, &args.command, Timestamp::now()).await?;
        print!("{text}");
        Ok(())
    })
}

/// A client of the store in `data_dir`, opened read-only and served in this process.
async fn local_client(data_dir: &Path) -> anyhow::Result<Client> {
    if !data_dir.join("CURRENT").exists() {
        anyhow::bail!("no store in {}: load one with `graphd demo` or `graphd generate`", data_dir.display());
    }
    let store = Arc::new(crate::open::open_store_read_only(data_dir)?);
    Ok(Client::from_channel(crate::server::in_process_channel(store).await?))
}

async fn answer(client: &mut Client, command: &QueryCommand, now: Timestamp) -> anyhow::Result<String> {
    match command {
        QueryCommand::Get(args) => get(client, args).await,
        QueryCommand::Related(args) => related(client, args, now).await,
        QueryCommand::WalkUp(args) => walk_up(client, args, now).await,
        QueryCommand::List(args) => list(client, args, now).await,
        QueryCommand::Counts(args) => counts(client, args).await,
        QueryCommand::Path(args) => path(client, args, now).await,
        QueryCommand::Changes(args) => changes(client, args, now).await,
        QueryCommand::Scrapers(args) => scrapers(client, args, now).await,
        QueryCommand::Rescrape(args) => {
            client.rescrape(&args.name).await?;
            Ok(format!("rescrape of {} requested: `graphd query scrapers` shows its progress\n", args.name))
        }
        QueryCommand::Checkpoint(args) => {
            let sequence = client.checkpoint(&args.dir).await?;
            Ok(format!("checkpoint written to {} (replication stream sequence {sequence})\n", args.dir))
        }
    }
}

async fn scrapers(client: &mut Client, args: &OutputArgs, now: Timestamp) -> anyhow::Result<String> {
    let scrapers = client.scrapers().await?;
    if args.output == Some(Output::Json) {
        let rows: Vec<_> = scrapers
            .iter()
            .map(|s| {
                serde_json::json!({
                    "scraper": s.scraper, "name": s.name, "resources": s.resources, "syncing": s.syncing,
                    "listings": s.listings, "objects": s.objects, "errors": s.errors,
                    "last_error": s.last_error, "last_sync_at": s.last_sync_at,
                })
            })
            .collect();
        return json_text(&serde_json::json!({ "scrapers": rows }));
    }
    if scrapers.is_empty() {
        return Ok("no scrapers run here: they run in `graphd serve` (ask it with --addr) or `graphd scrape`\n".into());
    }
    let rows: Vec<Vec<String>> = scrapers
        .iter()
        .map(|s| {
            let last_sync =
                if s.last_sync_at == 0 { "never".into() } else { render::age(Timestamp(s.last_sync_at), now) };
            let error = if s.last_error.is_empty() { "-".to_owned() } else { s.last_error.clone() };
            vec![
                s.scraper.clone(),
                s.name.clone(),
                format!("{}/{}", s.resources - s.syncing, s.resources),
                s.objects.to_string(),
                s.errors.to_string(),
                last_sync,
                error,
            ]
        })
        .collect();
    Ok(render::table(&["SCRAPER", "NAME", "LISTED", "OBJECTS", "ERRORS", "LAST SYNC", "LAST ERROR"], &rows))
}

fn json_text(value: &serde_json::Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

async fn get(client: &mut Client, args: &ItemArgs) -> anyhow::Result<String> {
    let narrowing = args.narrowing.narrowing();
    let found = client.find(&args.item, &narrowing).await?;
    let request = pb::GetRequest {
        by: Some(pb::get_request::By::Id(found.id)),
        include_deleted: narrowing.include_deleted,
        with_document: true,
        as_of: narrowing.as_of,
    };
    json_text(&item_json(&client.get_by(request).await?))
}

async fn related(client: &mut Client, args: &RelatedArgs, now: Timestamp) -> anyhow::Result<String> {
    let narrowing = args.item.narrowing.narrowing();
    let start = client.find(&args.item.item, &narrowing).await?;
    let direction = match args.direction {
        DirectionArg::Outgoing => pb::Direction::Outgoing,
        DirectionArg::Incoming => pb::Direction::Incoming,
        DirectionArg::Both => pb::Direction::Both,
    };
    let request = pb::RelatedRequest {
        id: start.id,
        direction: direction as i32,
        depth: args.depth,
        relations: args.relations.clone(),
        kinds: args.kinds.iter().map(|k| parse_kind(k)).collect::<Result<_, _>>()?,
        include_deleted: narrowing.include_deleted,
        limit: args.limit,
        as_of: narrowing.as_of,
    };
    let hits = client.related(request).await?;
    match args.item.output.unwrap_or(Output::Tree) {
        Output::Tree => Ok(render::related_tree(&start, &hits, now)),
        Output::Table => {
            let rows: Vec<_> = hits
                .iter()
                .filter_map(|hit| {
                    let (item, via) = (hit.item.as_ref()?, hit.via.as_ref()?);
                    let direction = if hit.outgoing { "out" } else { "in" };
                    Some(item_row(item, now, &[hit.depth.to_string(), format!("{direction}:{}", via.relation)]))
                })
                .collect();
            Ok(render::table(&[&ITEM_COLUMNS[..], &["DEPTH", "VIA"]].concat(), &rows))
        }
        Output::Json => {
            let hits: Vec<_> = hits
                .iter()
                .map(|hit| {
                    let via = hit.via.clone().unwrap_or_default();
                    serde_json::json!({
                        "item": hit.item.as_ref().map(item_json),
                        "depth": hit.depth,
                        "direction": if hit.outgoing { "outgoing" } else { "incoming" },
                        "via": {"from": via.from, "relation": via.relation, "to": via.to},
                    })
                })
                .collect();
            json_text(&serde_json::json!({"start": item_json(&start), "related": hits}))
        }
    }
}

async fn walk_up(client: &mut Client, args: &ItemArgs, now: Timestamp) -> anyhow::Result<String> {
    let narrowing = args.narrowing.narrowing();
    let start = client.find(&args.item, &narrowing).await?;
    let request =
        pb::WalkUpRequest { id: start.id, include_deleted: narrowing.include_deleted, as_of: narrowing.as_of };
    let up = client.walk_up_with(request).await?;
    match args.output.unwrap_or(Output::Tree) {
        Output::Tree => Ok(render::walk_up_tree(&up, now)),
        Output::Table => {
            let rows: Vec<_> = up
                .ancestors
                .iter()
                .filter_map(|a| Some(item_row(a.item.as_ref()?, now, &[a.depth.to_string()])))
                .collect();
            Ok(render::table(&[&ITEM_COLUMNS[..], &["DEPTH"]].concat(), &rows))
        }
        Output::Json => {
            let ancestors: Vec<_> = up
                .ancestors
                .iter()
                .map(|a| serde_json::json!({"item": a.item.as_ref().map(item_json), "depth": a.depth}))
                .collect();
            let links: Vec<_> = up
                .links
                .iter()
                .map(|l| serde_json::json!({"child": l.child, "relation": l.relation, "parent": l.parent}))
                .collect();
            json_text(&serde_json::json!({"start": item_json(&start), "ancestors": ancestors, "links": links}))
        }
    }
}

async fn list(client: &mut Client, args: &ListArgs, now: Timestamp) -> anyhow::Result<String> {
    let labels = args
        .labels
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--label {pair:?}: expected key=value"))
        })
        .collect::<anyhow::Result<_>>()?;
    let health = match &args.health {
        None => None,
        Some(word) => Some(
            pb::Health::from_str_name(&format!("HEALTH_{}", word.to_ascii_uppercase()))
                .ok_or_else(|| anyhow::anyhow!("--health {word:?}: expected Healthy, Warning, Unhealthy or Unknown"))?,
        ),
    };
    let request = pb::ListRequest {
        scope: Some(args.scope.filter()),
        kind: args.scope.kind()?,
        labels,
        has_health: health.is_some(),
        health: health.unwrap_or(pb::Health::Unknown) as i32,
        include_deleted: args.include_deleted,
        limit: args.limit,
        cursor: args.cursor.clone().unwrap_or_default(),
        as_of: args.as_of.map_or(0, |at| at.0),
    };
    let page = client.list(request).await?;
    let next_cursor = (!page.next_cursor.is_empty()).then_some(page.next_cursor);
    match args.output.unwrap_or(Output::Table) {
        Output::Json => {
            let items: Vec<_> = page.items.iter().map(item_json).collect();
            json_text(&serde_json::json!({"items": items, "next_cursor": next_cursor}))
        }
        Output::Tree | Output::Table => {
            let rows: Vec<_> = page.items.iter().map(|i| item_row(i, now, &[i.id.to_string()])).collect();
            let mut out = render::table(&[&ITEM_COLUMNS[..], &["ID"]].concat(), &rows);
            if let Some(cursor) = next_cursor {
                out.push_str(&format!("more: --cursor {cursor}\n"));
            }
            Ok(out)
        }
    }
}

async fn counts(client: &mut Client, args: &ScopeArgs) -> anyhow::Result<String> {
    let request = pb::HealthCountsRequest { scope: Some(args.filter()), kind: args.kind()? };
    let c = client.count_by_health(request).await?;
    let total = c.healthy + c.warning + c.unhealthy + c.unknown;
    let rows = vec![[c.healthy, c.warning, c.unhealthy, c.unknown, total].map(|n| n.to_string()).to_vec()];
    Ok(render::table(&["HEALTHY", "WARNING", "UNHEALTHY", "UNKNOWN", "TOTAL"], &rows))
}

async fn path(client: &mut Client, args: &PathArgs, now: Timestamp) -> anyhow::Result<String> {
    let narrowing = args.narrowing.narrowing();
    let from = client.find(&args.from, &narrowing).await?;
    let to = client.find(&args.to, &narrowing).await?;
    let request = pb::PathRequest {
        from: from.id,
        to: to.id,
        relations: args.relations.clone(),
        max_depth: args.max_depth,
        include_deleted: narrowing.include_deleted,
    };
    let path = client.path(request).await?;
    if args.output == Some(Output::Json) {
        let items: Vec<_> = path.items.iter().map(item_json).collect();
        let edges: Vec<_> = path
            .edges
            .iter()
            .map(|e| serde_json::json!({"from": e.from, "relation": e.relation, "to": e.to}))
            .collect();
        return json_text(&serde_json::json!({"items": items, "edges": edges}));
    }
    // One item per line; between two, the edge and which way it points.
    let mut out = String::new();
    for (i, item) in path.items.iter().enumerate() {
        if let Some(edge) = i.checked_sub(1).and_then(|e| path.edges.get(e)) {
            let arrow = if edge.to == item.id {
                format!("│ {} ↓", edge.relation)
            } else {
                format!("│ {} ↑", edge.relation)
            };
            out.push_str(&format!("  {arrow}\n"));
        }
        let place =
            if item.namespace.is_empty() { item.name.clone() } else { format!("{}/{}", item.namespace, item.name) };
        let age = render::age(Timestamp(item.created_at), now);
        out.push_str(&format!("{} {place}  {}  {age}  id:{}\n", item.kind, health_word(item), item.id));
    }
    Ok(out)
}

async fn changes(client: &mut Client, args: &ChangesArgs, now: Timestamp) -> anyhow::Result<String> {
    let narrowing = Narrowing { include_deleted: true, ..args.item.narrowing.narrowing() };
    let item = client.find(&args.item.item, &narrowing).await?;
    let since = args.since.map_or(0, |ago| now.0.saturating_sub(ago.as_millis() as u64));
    let request =
        pb::ChangesRequest { id: item.id, depth: args.depth(), since, types: args.types.clone(), limit: args.limit };
    let changes = client.changes(request).await?;
    if args.item.output == Some(Output::Json) {
        let json: Vec<_> = changes
            .iter()
            .map(|c| {
                let patch: Option<serde_json::Value> = serde_json::from_str(&c.patch_json).ok();
                serde_json::json!({"item": c.item, "at": c.at, "type": c.r#type, "summary": c.summary,
                    "source": c.source, "patch": patch})
            })
            .collect();
        return json_text(&serde_json::Value::Array(json));
    }
    let rows: Vec<_> = changes
        .iter()
        .map(|c| {
            let at = render::age(Timestamp(c.at), now);
            vec![at, c.r#type.clone(), c.summary.clone(), c.source.clone(), c.item.to_string()]
        })
        .collect();
    Ok(render::table(&["AGE", "TYPE", "SUMMARY", "SOURCE", "ITEM"], &rows))
}
