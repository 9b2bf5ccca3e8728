//! The `graphd` binary as a person uses it: demo, queries, and the errors they get wrong.

use std::path::Path;
use std::process::{Command, Output};

fn graphd(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graphd")).arg("--data-dir").arg(data_dir).args(args).output().expect("run graphd")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "graphd failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn fails(out: Output) -> String {
    assert!(!out.status.success(), "graphd should have failed; stdout: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn demo_then_queries_by_name_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let demo = ok(graphd(&data, &["demo", "--size", "2"]));
    for kind in [
        "Kubernetes::ReplicaSet",
        "Kubernetes::Node",
        "AWS::EC2::Instance",
        "AWS::EC2::VPC",
        "AWS::Account",
        "Kubernetes::Cluster",
    ] {
        assert!(demo.contains(kind), "the demo's walk-up shows {kind}:\n{demo}");
    }
    assert!(ok(graphd(&data, &["demo"])).contains("Kubernetes::Pod"), "a second demo reuses the store");

    let list = ok(graphd(
        &data,
        &[
            "query",
            "list",
            "--cluster",
            "cluster-0000",
            "--namespace",
            "team-0",
            "--kind",
            "pod",
            "--limit",
            "3",
            "-o",
            "json",
        ],
    ));
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let pods = list["items"].as_array().unwrap();
    assert_eq!(pods.len(), 3);
    assert!(list["next_cursor"].is_string(), "more pods than one page");
    let pod = pods[0]["name"].as_str().unwrap();
    let reference = format!("pod/team-0/{pod}");

    let up = ok(graphd(&data, &["query", "walk-up", &reference, "--cluster", "cluster-0000", "-o", "json"]));
    let up: serde_json::Value = serde_json::from_str(&up).unwrap();
    let kinds: Vec<&str> =
        up["ancestors"].as_array().unwrap().iter().map(|a| a["item"]["kind"].as_str().unwrap()).collect();
    for kind in [
        "Kubernetes::ReplicaSet",
        "Kubernetes::Deployment",
        "Kubernetes::Namespace",
        "Kubernetes::Cluster",
        "Kubernetes::Node",
        "AWS::EC2::Instance",
        "AWS::EC2::Subnet",
        "AWS::EC2::VPC",
        "AWS::Region",
        "AWS::Account",
    ] {
        assert!(kinds.contains(&kind), "walk-up reaches {kind}: {kinds:?}");
    }
    let tree = ok(graphd(&data, &["query", "related", &reference, "--cluster", "cluster-0000", "--depth", "1"]));
    assert!(tree.contains("[runs-on →]") && tree.contains("[← owns]"), "{tree}");

    let instance = kinds.iter().position(|k| *k == "AWS::EC2::Instance").unwrap();
    let instance_id = up["ancestors"][instance]["item"]["name"].as_str().unwrap();
    let by_short_id = ok(graphd(&data, &["query", "get", instance_id]));
    assert!(by_short_id.contains("\"AWS::EC2::Instance\""), "{by_short_id}");

    let counts = ok(graphd(&data, &["query", "counts", "--cluster", "cluster-0001"]));
    assert!(counts.starts_with("HEALTHY"), "{counts}");

    assert!(fails(graphd(&data, &["query", "get", "pod/team-0/no-such-pod"]))
        .contains("no item matches \"pod/team-0/no-such-pod\""));
    let ambiguous = fails(graphd(&data, &["query", "get", "ns/team-0"]));
    assert!(ambiguous.contains("matches 2 items") && ambiguous.contains("--cluster"), "{ambiguous}");
    assert!(ok(graphd(&data, &["query", "get", "ns/team-0", "--cluster", "cluster-0001"])).contains("cluster-0001"));
    assert!(fails(graphd(&data, &["query", "get", "gizmo/x"])).contains("unknown kind \"gizmo\""));
    assert!(fails(graphd(&data, &["query", "related", &reference, "--cluster", "cluster-0000", "--depth", "0"]))
        .contains("depth"));
    assert!(fails(graphd(&data, &["query", "list", "--label", "novalue"])).contains("expected key=value"));
    assert!(fails(graphd(&dir.path().join("absent"), &["query", "get", "id:1"])).contains("no store in"));
}

#[test]
fn generate_writes_csv_without_touching_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csv = dir.path().join("csv");
    ok(graphd(&data, &["generate", "--size", "1", "--csv", csv.to_str().unwrap(), "--no-load"]));
    let items = std::fs::read_to_string(csv.join("items.csv")).unwrap();
    let edges = std::fs::read_to_string(csv.join("edges.csv")).unwrap();
    assert!(items.starts_with("id,type,name,namespace,cluster,account,region,parent_id,deleted\n"));
    assert!(edges.starts_with("from_id,to_id,relation,deleted\n"));
    assert!(edges.lines().count() > 5 * items.lines().count() - 5, "≈5 edges per item");
    assert!(!data.exists(), "--no-load leaves the data dir alone");
}

#[test]
fn rules_validate_reports_every_error_with_file_rule_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "version: 1\nrules:\n  - name: job-scheduler\n    from: {kind: \"Custom::Job\"}\n    relation: runs-on\n    to: {kind: \"Custom::Scheduler\", match: name, values: spec.scheduler, scope: anywhere}\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "version: 1\nrules:\n  - name: broken\n    from: {kind: Pod}\n    relation: runs-on\n    to: {kind: \"Kubernetes::Node\", match: name, values: \"spec..nodeName\", scope: planet}\n",
    )
    .unwrap();
    let data = dir.path().join("unused");
    let out = ok(graphd(&data, &["rules", "validate", good.to_str().unwrap()]));
    assert!(out.starts_with("ok: 1 link rules and 0 health rules in 1 file(s)"), "{out}");
    let err = fails(graphd(&data, &["rules", "validate", good.to_str().unwrap(), bad.to_str().unwrap()]));
    let bad_name = bad.display().to_string();
    for expected in [
        format!("{bad_name}: rule broken: from.kind:"),
        format!("{bad_name}: rule broken: to.values: bad field path \"spec..nodeName\""),
        format!("{bad_name}: rule broken: to.scope: unknown scope \"planet\""),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("3 error(s)"), "{err}");
}

#[test]
fn query_a_server_by_addr_and_its_data_dir_beside_it() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(graphd(&data, &["demo", "--size", "1"]));
    let mut server = Command::new(env!("CARGO_BIN_EXE_graphd"))
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start graphd serve");
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr = first.trim().strip_prefix("graphd listening on ").unwrap_or_else(|| panic!("{first}")).to_owned();

    let remote = |args: &[&str]| {
        let mut all = vec!["query", "--addr", &addr];
        all.extend_from_slice(args);
        graphd(&dir.path().join("unused"), &all)
    };
    let pods = ok(remote(&["list", "--cluster", "cluster-0000", "--kind", "pod", "--limit", "1", "-o", "json"]));
    let pods: serde_json::Value = serde_json::from_str(&pods).unwrap();
    let pod = format!(
        "pod/{}/{}",
        pods["items"][0]["namespace"].as_str().unwrap(),
        pods["items"][0]["name"].as_str().unwrap()
    );
    let tree = ok(remote(&["walk-up", &pod, "--cluster", "cluster-0000"]));
    assert!(tree.contains("[runs-on →]") && tree.contains("AWS::Account"), "{tree}");

    // The data dir can be read while the server holds it, and says the same.
    let beside = ok(graphd(&data, &["query", "walk-up", &pod, "--cluster", "cluster-0000"]));
    assert_eq!(beside, tree);

    let account = ok(remote(&["list", "--kind", "account", "-o", "json"]));
    let account: serde_json::Value = serde_json::from_str(&account).unwrap();
    let account_id = format!("id:{}", account["items"][0]["id"]);
    let path = ok(remote(&["path", &pod, &account_id, "--cluster", "cluster-0000"]));
    let lines: Vec<&str> = path.lines().collect();
    assert!(lines[0].starts_with("Kubernetes::Pod") && lines.last().unwrap().starts_with("AWS::Account"), "{path}");
    assert!(path.contains("runs-on ↑") || path.contains("runs-on ↓"), "{path}");

    let changes = ok(remote(&["changes", &pod, "--cluster", "cluster-0000", "--depth", "1", "--type", "Created"]));
    assert!(changes.starts_with("AGE") && changes.lines().count() > 2, "the pod and its neighbours: {changes}");
    assert!(changes.lines().skip(1).all(|l| l.contains("Created")), "{changes}");
    let unknown = fails(remote(&["changes", &pod, "--cluster", "cluster-0000", "--type", "Exploded"]));
    assert!(unknown.contains("unknown change type \"Exploded\""), "{unknown}");

    server.kill().unwrap();
    server.wait().unwrap();
    let gone = fails(remote(&["get", "id:1"]));
    assert!(gone.contains(&format!("cannot reach graphd at {addr}")), "{gone}");
}

#[test]
fn relink_applies_changed_rules_to_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let snapshot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/k8s/k3s-troubleshoot-real-snapshot.json");
    let snapshot = snapshot.to_str().unwrap();
    let custom = dir.path().join("custom.yaml");
    std::fs::write(
        &custom,
        "version: 1\nrules:\n  - name: custom-pod-node\n    from: {kind: \"Kubernetes::Pod\"}\n    relation: uses\n    to: {kind: \"Kubernetes::Node\", match: name, cel: \"object.spec.nodeName\", scope: cluster}\n",
    )
    .unwrap();
    let custom = custom.to_str().unwrap();
    let imported = ok(graphd(&data, &["import", "--cluster", "c1", snapshot]));
    // The summary: edges by relation, and what waits, by rule (EXPECTED_LINKS: 2 of 8
    // RoleBinding and 39 of 43 ClusterRoleBinding ServiceAccount subjects resolve).
    assert!(imported.contains("edges of these items, by relation: contains 476,"), "{imported}");
    assert!(imported.contains(" binds 41,"), "{imported}");
    assert!(
        imported.contains("k8s-rolebinding-service-account 6, k8s-clusterrolebinding-service-account 4"),
        "{imported}"
    );
    let out = ok(graphd(&data, &["relink", "--rules", custom]));
    assert!(out.contains(": 11 edges added, 0 removed"), "the 11 scheduled Pods gain an edge: {out}");
    let out = graphd(&data, &["import", "--cluster", "c1", snapshot]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = ok(out);
    assert!(stderr.contains("relinking them"), "an import under other rules relinks first: {stderr}");
    assert!(stdout.contains(": 0 edges added, 11 removed"), "the dropped rule's edges go: {stdout}");
    let out = ok(graphd(&data, &["relink"]));
    assert!(out.contains(": 0 edges added, 0 removed"), "{out}");

    let bad = dir.path().join("bad-cel.yaml");
    std::fs::write(
        &bad,
        "version: 1\nrules:\n  - name: half\n    from: {kind: \"Kubernetes::Node\"}\n    relation: runs-on\n    to: {kind: \"AWS::EC2::Instance\", match: name, cel: \"object.spec.providerID.split(\", scope: anywhere}\n",
    )
    .unwrap();
    let err = fails(graphd(&data, &["relink", "--rules", bad.to_str().unwrap()]));
    assert!(err.contains("bad-cel.yaml: rule half: to.cel: CEL does not compile"), "{err}");
}
