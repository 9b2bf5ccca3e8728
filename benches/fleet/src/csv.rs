//! The fleet as two CSV files, so other systems can be loaded with exactly the same graph.
//!
//! `items.csv`: `id,type,name,namespace,cluster,account,region,parent_id,deleted`;
//! `edges.csv`: `from_id,to_id,relation,deleted`. Ids are UUID strings, `deleted` is
//! `true`/`false`, `parent_id` is empty for roots.

use crate::Fleet;
use std::io::{self, BufWriter, Write};
use std::path::Path;

pub const ITEMS_HEADER: &str = "id,type,name,namespace,cluster,account,region,parent_id,deleted";
pub const EDGES_HEADER: &str = "from_id,to_id,relation,deleted";

/// Writes `items.csv` and `edges.csv` into `dir` (created if needed).
pub fn write_csv(fleet: &Fleet, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut items = BufWriter::new(std::fs::File::create(dir.join("items.csv"))?);
    write_items(fleet, &mut items)?;
    items.flush()?;
    let mut edges = BufWriter::new(std::fs::File::create(dir.join("edges.csv"))?);
    write_edges(fleet, &mut edges)?;
    edges.flush()
}

pub fn write_items(fleet: &Fleet, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{ITEMS_HEADER}")?;
    for item in &fleet.items {
        let w = &item.write;
        let parent = item.parent.map(|p| fleet.items[p].uuid.to_string()).unwrap_or_default();
        let fields = [
            item.uuid.to_string(),
            w.kind.to_string(),
            w.name.clone(),
            w.namespace.clone().unwrap_or_default(),
            w.scope.cluster.clone().unwrap_or_default(),
            w.scope.account.clone().unwrap_or_default(),
            w.scope.region.clone().unwrap_or_default(),
            parent,
            item.deleted.to_string(),
        ];
        write_row(out, &fields)?;
    }
    Ok(())
}

pub fn write_edges(fleet: &Fleet, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{EDGES_HEADER}")?;
    for edge in &fleet.edges {
        let fields = [
            fleet.items[edge.from].uuid.to_string(),
            fleet.items[edge.to].uuid.to_string(),
            edge.relation.to_owned(),
            fleet.edge_deleted(edge).to_string(),
        ];
        write_row(out, &fields)?;
    }
    Ok(())
}

/// One RFC 4180 row: fields with a comma, quote or line break are quoted.
fn write_row(out: &mut impl Write, fields: &[String]) -> io::Result<()> {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        if field.contains([',', '"', '\n', '\r']) {
            write!(out, "\"{}\"", field.replace('"', "\"\""))?;
        } else {
            out.write_all(field.as_bytes())?;
        }
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate, FleetSize};

    #[test]
    fn csv_has_one_row_per_item_and_edge_with_the_agreed_headers() {
        let fleet = generate(FleetSize::Clusters(1), 3);
        let mut items = Vec::new();
        write_items(&fleet, &mut items).unwrap();
        let items = String::from_utf8(items).unwrap();
        let mut lines = items.lines();
        assert_eq!(lines.next(), Some(ITEMS_HEADER));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), fleet.items.len());
        assert!(rows.iter().all(|r| r.len() == 9 && (r[8] == "true" || r[8] == "false")));
        let ids: std::collections::HashSet<&str> = rows.iter().map(|r| r[0]).collect();
        assert_eq!(ids.len(), rows.len(), "ids are unique");
        assert!(rows.iter().all(|r| r[7].is_empty() || ids.contains(r[7])), "parents exist");
        assert!(rows.iter().any(|r| r[7].is_empty()), "accounts are roots");
        let pod = rows.iter().find(|r| r[1] == "Kubernetes::Pod").unwrap();
        assert!(uuid::Uuid::parse_str(pod[0]).is_ok());
        assert_eq!(pod[4], "cluster-0000");

        let mut edges = Vec::new();
        write_edges(&fleet, &mut edges).unwrap();
        let edges = String::from_utf8(edges).unwrap();
        assert_eq!(edges.lines().next(), Some(EDGES_HEADER));
        assert_eq!(edges.lines().count(), fleet.edges.len() + 1);
        let deleted = edges.lines().skip(1).filter(|l| l.ends_with(",true")).count();
        assert_eq!(deleted, fleet.edges.iter().filter(|e| fleet.edge_deleted(e)).count());
    }

    #[test]
    fn awkward_fields_are_quoted() {
        let mut out = Vec::new();
        write_row(&mut out, &["a,b".into(), "say \"hi\"".into(), "plain".into()]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "\"a,b\",\"say \"\"hi\"\"\",plain\n");
    }
}
