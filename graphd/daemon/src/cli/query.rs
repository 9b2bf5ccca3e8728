//! `graphd query …`: read the store in a data dir.

use super::Output;
use crate::render::{self, item_json};
use crate::resolve::{parse_kind, resolve, Narrowing};
use clap::{Args, Subcommand, ValueEnum};
use graphd_core::{Health, Item, Timestamp};
use graphd_store::query::{ChangeFilter, Direction, ListQuery, Reader, RelatedQuery, ScopeFilter};
use graphd_store::Engine;
use std::path::Path;

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
    /// What happened to one item, newest first.
    Changes(ItemArgs),
}

#[derive(Debug, Args)]
pub struct ItemArgs {
    /// `pod/NAMESPACE/NAME`, `Kubernetes::Pod/NAMESPACE/NAME`, `node/NAME`, `i-0abc123`, or `id:42`.
    pub item: String,
    #[arg(long)]
    pub cluster: Option<String>,
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    /// Include tombstoned items and edges.
    #[arg(long)]
    pub include_deleted: bool,
    #[arg(short, long, value_enum)]
    pub output: Option<Output>,
}

impl ItemArgs {
    fn narrowing(&self) -> Narrowing {
        Narrowing {
            cluster: self.cluster.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
            include_deleted: self.include_deleted,
        }
    }
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
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
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
    fn filter(&self) -> ScopeFilter {
        ScopeFilter {
            cluster: self.cluster.clone(),
            namespace: self.namespace.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// `key=value`, repeatable; all must match.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    #[arg(long)]
    pub health: Option<String>,
    #[arg(long)]
    pub include_deleted: bool,
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// The cursor printed at the end of the previous page.
    #[arg(long)]
    pub cursor: Option<String>,
    #[arg(short, long, value_enum)]
    pub output: Option<Output>,
}

pub fn run(data_dir: &Path, command: &QueryCommand) -> anyhow::Result<()> {
    if !data_dir.join("CURRENT").exists() {
        anyhow::bail!("no store in {}: load one with `graphd demo` or `graphd generate`", data_dir.display());
    }
    let store = crate::open_store(data_dir)?;
    let reader = store.read();
    let now = Timestamp::now();
    let text = match command {
        QueryCommand::Get(args) => get(&reader, args)?,
        QueryCommand::Related(args) => related(&reader, args, now)?,
        QueryCommand::WalkUp(args) => walk_up(&reader, args, now)?,
        QueryCommand::List(args) => list(&reader, args, now)?,
        QueryCommand::Counts(args) => counts(&reader, args)?,
        QueryCommand::Changes(args) => changes(&reader, args)?,
    };
    print!("{text}");
    Ok(())
}

fn get<E: Engine>(reader: &Reader<'_, E>, args: &ItemArgs) -> anyhow::Result<String> {
    let item = resolve(reader, &args.item, &args.narrowing())?;
    let mut json = item_json(&item);
    json["document"] = reader.document(item.id)?.unwrap_or(serde_json::Value::Null);
    Ok(serde_json::to_string_pretty(&json)? + "\n")
}

fn related<E: Engine>(reader: &Reader<'_, E>, args: &RelatedArgs, now: Timestamp) -> anyhow::Result<String> {
    let item = resolve(reader, &args.item.item, &args.item.narrowing())?;
    let direction = match args.direction {
        DirectionArg::Outgoing => Direction::Outgoing,
        DirectionArg::Incoming => Direction::Incoming,
        DirectionArg::Both => Direction::Both,
    };
    let query = RelatedQuery {
        direction,
        depth: args.depth,
        relations: args.relations.clone(),
        kinds: args.kinds.iter().map(|k| parse_kind(k)).collect::<anyhow::Result<_>>()?,
        include_deleted: args.item.include_deleted,
        limit: args.limit,
    };
    let result = reader.related(item.id, &query)?;
    match args.item.output.unwrap_or(Output::Tree) {
        Output::Tree => render::related_tree(reader, &item, &result, now),
        Output::Table => {
            let mut rows = Vec::new();
            for hit in &result.hits {
                if let Some(found) = reader.get(hit.id, true)? {
                    let relation = reader.names().relation_name(hit.via.relation).to_owned();
                    let dir = if hit.outgoing { "out" } else { "in" };
                    rows.push(row(&found, now, &[hit.depth.to_string(), format!("{dir}:{relation}")]));
                }
            }
            Ok(render::table(&["KIND", "NAMESPACE", "NAME", "HEALTH", "STATUS", "AGE", "DEPTH", "VIA"], &rows))
        }
        Output::Json => {
            let mut hits = Vec::new();
            for hit in &result.hits {
                let relation = reader.names().relation_name(hit.via.relation).to_owned();
                hits.push(serde_json::json!({
                    "item": reader.get(hit.id, true)?.as_ref().map(item_json),
                    "depth": hit.depth,
                    "direction": if hit.outgoing { "outgoing" } else { "incoming" },
                    "via": {"from": hit.via.from.0, "relation": relation, "to": hit.via.to.0},
                }));
            }
            let json = serde_json::json!({"start": item_json(&item), "related": hits, "truncated": result.truncated});
            Ok(serde_json::to_string_pretty(&json)? + "\n")
        }
    }
}

fn walk_up<E: Engine>(reader: &Reader<'_, E>, args: &ItemArgs, now: Timestamp) -> anyhow::Result<String> {
    let item = resolve(reader, &args.item, &args.narrowing())?;
    let up = reader.walk_up(item.id, args.include_deleted)?;
    match args.output.unwrap_or(Output::Tree) {
        Output::Tree => render::walk_up_tree(reader, &item, &up, now),
        Output::Table => {
            let mut rows = Vec::new();
            for node in &up.nodes {
                if let Some(found) = reader.get(node.id, true)? {
                    rows.push(row(&found, now, &[node.depth.to_string()]));
                }
            }
            Ok(render::table(&["KIND", "NAMESPACE", "NAME", "HEALTH", "STATUS", "AGE", "DEPTH"], &rows))
        }
        Output::Json => {
            let mut nodes = Vec::new();
            for node in &up.nodes {
                nodes.push(serde_json::json!({"item": reader.get(node.id, true)?.as_ref().map(item_json), "depth": node.depth}));
            }
            let links: Vec<_> = up
                .links
                .iter()
                .map(|l| {
                    let relation = reader.names().relation_name(l.relation).to_owned();
                    serde_json::json!({"child": l.child.0, "relation": relation, "parent": l.parent.0})
                })
                .collect();
            let json = serde_json::json!({"start": item_json(&item), "ancestors": nodes, "links": links});
            Ok(serde_json::to_string_pretty(&json)? + "\n")
        }
    }
}

fn list<E: Engine>(reader: &Reader<'_, E>, args: &ListArgs, now: Timestamp) -> anyhow::Result<String> {
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
            Health::parse(word)
                .ok_or_else(|| anyhow::anyhow!("--health {word:?}: expected Healthy, Warning, Unhealthy or Unknown"))?,
        ),
    };
    let query = ListQuery {
        scope: args.scope.filter(),
        kind: args.scope.kind.as_deref().map(parse_kind).transpose()?,
        labels,
        health,
        include_deleted: args.include_deleted,
        limit: args.limit,
        cursor: args.cursor.clone(),
    };
    let page = reader.list(&query)?;
    match args.output.unwrap_or(Output::Table) {
        Output::Json => {
            let json = serde_json::json!({"items": page.items.iter().map(item_json).collect::<Vec<_>>(), "next_cursor": page.next_cursor});
            Ok(serde_json::to_string_pretty(&json)? + "\n")
        }
        Output::Tree | Output::Table => {
            let rows: Vec<_> = page.items.iter().map(|i| row(i, now, &[i.id.to_string()])).collect();
            let mut out = render::table(&["KIND", "NAMESPACE", "NAME", "HEALTH", "STATUS", "AGE", "ID"], &rows);
            if let Some(cursor) = page.next_cursor {
                out.push_str(&format!("more: --cursor {cursor}\n"));
            }
            Ok(out)
        }
    }
}

fn counts<E: Engine>(reader: &Reader<'_, E>, args: &ScopeArgs) -> anyhow::Result<String> {
    let kind = args.kind.as_deref().map(parse_kind).transpose()?;
    let c = reader.health_counts(&args.filter(), kind.as_ref())?;
    let rows = vec![vec![
        c.healthy.to_string(),
        c.warning.to_string(),
        c.unhealthy.to_string(),
        c.unknown.to_string(),
        c.total().to_string(),
    ]];
    Ok(render::table(&["HEALTHY", "WARNING", "UNHEALTHY", "UNKNOWN", "TOTAL"], &rows))
}

fn changes<E: Engine>(reader: &Reader<'_, E>, args: &ItemArgs) -> anyhow::Result<String> {
    let item = resolve(reader, &args.item, &Narrowing { include_deleted: true, ..args.narrowing() })?;
    let changes = reader.changes(&[item.id], &ChangeFilter::newest(1000))?;
    if args.output == Some(Output::Json) {
        return Ok(serde_json::to_string_pretty(&changes)? + "\n");
    }
    let now = Timestamp::now();
    let rows: Vec<_> = changes
        .iter()
        .map(|c| vec![render::age(c.at, now), format!("{:?}", c.change_type), c.summary.clone(), c.source.clone()])
        .collect();
    Ok(render::table(&["AGE", "TYPE", "SUMMARY", "SOURCE"], &rows))
}

fn row(item: &Item, now: Timestamp, extra: &[String]) -> Vec<String> {
    let mut cells = vec![
        item.kind.to_string(),
        item.namespace.clone().unwrap_or_default(),
        item.name.clone(),
        if item.is_deleted() { "Deleted".into() } else { item.health.to_string() },
        item.status.clone(),
        render::age(item.created_at, now),
    ];
    cells.extend_from_slice(extra);
    cells
}
