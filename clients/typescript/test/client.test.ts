// The client against a real `graphd serve` on a free port over a fresh data dir: ingest a small
// graph, then lookup, get, walk-up, related, list, health counts, path, changes and watch.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import {
  Code,
  ConnectError,
  Direction,
  GraphdClient,
  baseUrlFor,
  kubernetesKey,
  type IngestRequestInit,
  type WatchEvent,
} from "../src/index.js";

// This file runs as dist/test/client.test.js: the package is two levels up.
const PACKAGE_DIR = fileURLToPath(new URL("../../", import.meta.url));
const GRAPHD_BIN = process.env.GRAPHD_BIN ?? resolve(PACKAGE_DIR, "../../target/debug/graphd");

interface Server {
  addr: string;
  stop(): Promise<void>;
}

async function startGraphd(): Promise<Server> {
  if (!existsSync(GRAPHD_BIN)) {
    throw new Error(
      `no graphd binary at ${GRAPHD_BIN}: build it with \`cargo build -p graphd --bin graphd\` ` +
        `in the repository root, or set GRAPHD_BIN to its path`,
    );
  }
  const dataDir = mkdtempSync(join(tmpdir(), "graphd-ts-test-"));
  const child = spawn(GRAPHD_BIN, ["--data-dir", dataDir, "serve", "--listen", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.on("exit", killOnExit);
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const cleanup = (): void => {
    process.off("exit", killOnExit);
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const addr = await firstLine(child, 30_000).then((line) => {
      const prefix = "graphd listening on ";
      if (!line.startsWith(prefix)) {
        throw new Error(`graphd serve did not start: first line ${JSON.stringify(line)}`);
      }
      return line.slice(prefix.length).trim();
    });
    return {
      addr,
      async stop() {
        try {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGTERM");
          }
          const code = await withTimeout(exited, 30_000, "graphd did not stop within 30 s of SIGTERM");
          assert.equal(code, 0, `graphd exited with ${code}: ${stderr}`);
        } finally {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGKILL");
          }
          cleanup();
        }
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    cleanup();
    throw new Error(`${(error as Error).message}\ngraphd stderr:\n${stderr}`);
  }
}

function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const line = new Promise<string>((done, fail) => {
    lines.once("line", done);
    child.once("exit", (code, signal) => fail(new Error(`graphd exited (${code ?? signal}) before listening`)));
  });
  // Keep draining stdout so the server never blocks on a full pipe.
  return withTimeout(line, timeoutMs, `graphd printed nothing within ${timeoutMs} ms`);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- the small graph ---------------------------------------------------------------------------

function upsert(uid: string, kind: string, name: string, namespace = "", document: object = {}, status = "") {
  return {
    op: {
      case: "upsert" as const,
      value: {
        key: { source: { case: "kubernetes" as const, value: { cluster: "c1", uid } } },
        kind,
        name,
        namespace,
        scope: { cluster: "c1" },
        status,
        documentJson: JSON.stringify(document),
      },
    },
  };
}

function ownedBy(kind: string, uid: string) {
  return { metadata: { namespace: "apps", ownerReferences: [{ kind, uid, controller: true }] } };
}

function thePod(status = "") {
  const document = { ...ownedBy("ReplicaSet", "rs"), spec: { nodeName: "n1" } };
  return upsert("pod", "Kubernetes::Pod", "web-5d78c-abcde", "apps", document, status);
}

const SMALL_GRAPH = [
  upsert("ns", "Kubernetes::Namespace", "apps"),
  upsert("n1", "Kubernetes::Node", "n1"),
  upsert("deploy", "Kubernetes::Deployment", "web", "apps", { metadata: { namespace: "apps" } }),
  upsert("rs", "Kubernetes::ReplicaSet", "web-5d78c", "apps", ownedBy("Deployment", "deploy")),
  thePod(),
];

function batch(sequence: bigint, operations: IngestRequestInit["operations"]): IngestRequestInit {
  return { sequence, source: "ts-test", operations };
}

// ---- tests ---------------------------------------------------------------------------------------

test("addresses", () => {
  assert.equal(baseUrlFor("127.0.0.1:7373"), "http://127.0.0.1:7373");
  assert.equal(baseUrlFor("http://localhost:7373/"), "http://localhost:7373");
  assert.equal(baseUrlFor("https://graphd.example:443"), "https://graphd.example:443");
  assert.throws(() => baseUrlFor("localhost"), /missing port/);
  assert.throws(() => baseUrlFor("ftp://x:1"), /scheme/);
});

test("against a real graphd serve", async (t) => {
  const server = await startGraphd();
  const graphd = GraphdClient.connect(server.addr, { timeoutMs: 10_000 });
  try {
    const [ack, ...more] = await graphd.ingest([batch(1n, SMALL_GRAPH)]);
    assert.equal(more.length, 0);
    assert.ok(ack, "no ack");
    assert.ok(ack.applied, `batch 1 rejected: ${ack.error}`);
    assert.equal(ack.sequence, 1n);
    assert.equal(ack.created, 5);
    assert.deepEqual(await graphd.scrapers(), [], "a server without scrapers configured runs none");

    const { items: pods } = await graphd.lookup({ kind: "Kubernetes::Pod", namespace: "apps", name: "web-5d78c-abcde" });
    assert.equal(pods.length, 1);
    const pod = pods[0]!;
    assert.equal(typeof pod.id, "bigint");
    const node = await graphd.getByKey(kubernetesKey("c1", "n1"));
    assert.equal(node.name, "n1");

    await t.test("get by id", async () => {
      const got = await graphd.get(pod.id, { withDocument: true });
      assert.equal(got.id, pod.id);
      assert.equal(got.kind, "Kubernetes::Pod");
      assert.equal(got.namespace, "apps");
      assert.match(got.documentJson, /nodeName/);
    });

    await t.test("walk up", async () => {
      const up = await graphd.walkUp(pod.id);
      assert.equal(up.start?.id, pod.id);
      const kinds = new Set(up.ancestors.map((a) => a.item?.kind));
      for (const kind of ["Kubernetes::ReplicaSet", "Kubernetes::Deployment", "Kubernetes::Node", "Kubernetes::Namespace"]) {
        assert.ok(kinds.has(kind), `no ${kind} among ${[...kinds].join(", ")}`);
      }
      assert.ok(
        up.links.some((l) => l.child === pod.id && l.relation === "runs-on" && l.parent === node.id),
        `no pod runs-on node link in ${JSON.stringify(up.links, (_, v) => (typeof v === "bigint" ? `${v}` : v))}`,
      );
    });

    await t.test("related", async () => {
      const { hits } = await graphd.related({ id: node.id, direction: Direction.INCOMING, depth: 1 });
      assert.deepEqual(
        hits.map((h) => h.item?.id),
        [pod.id],
      );
      assert.equal(hits[0]!.via?.relation, "runs-on");
    });

    await t.test("list, count by health, path", async () => {
      const names: string[] = [];
      for await (const item of graphd.listAll({ scope: { cluster: "c1", namespace: "apps" }, limit: 1 })) {
        names.push(item.name);
      }
      assert.deepEqual(names.sort(), ["web", "web-5d78c", "web-5d78c-abcde"]);
      const counts = await graphd.countByHealth({ scope: { cluster: "c1" } });
      assert.equal(counts.unknown, 5n);
      const path = await graphd.path({ from: pod.id, to: node.id });
      assert.deepEqual(
        path.items.map((i) => i.id),
        [pod.id, node.id],
      );
    });

    await t.test("watch hears the eviction", async () => {
      // Both watches are subscribed once their response headers arrive (the server subscribes
      // before it answers); only then is the eviction sent.
      const subscribed: Promise<void>[] = [];
      const headers = () => {
        let seen!: () => void;
        subscribed.push(new Promise<void>((done) => (seen = done)));
        return { onHeader: () => seen() };
      };
      const onNode = graphd.watchItem(node.id, 1, headers());
      const inApps = graphd.watchScope({ cluster: "c1", namespace: "apps" }, headers());
      const nodeEvent = onNode.next();
      const scopeEvent = inApps.next();
      try {
        await withTimeout(Promise.all(subscribed), 10_000, "watches not subscribed within 10 s");

        const [evicted] = await graphd.ingest([batch(2n, [thePod("Evicted")])]);
        assert.ok(evicted?.applied, `batch 2 rejected: ${evicted?.error}`);
        assert.equal(evicted.updated, 1);

        for (const [name, next] of [
          ["watchItem", nodeEvent],
          ["watchScope", scopeEvent],
        ] as const) {
          const event = await withTimeout(next, 10_000, `${name}: no event within 10 s`);
          assert.equal(event.done, false, `${name} ended`);
          const { change, item } = event.value as WatchEvent;
          assert.equal(change?.item, pod.id, name);
          assert.equal(change?.type, "Updated", name);
          assert.equal(change?.source, "ts-test", name);
          assert.equal(item?.id, pod.id, name);
          assert.equal(item?.status, "Evicted", name);
        }
      } finally {
        // Stopping the iteration cancels the call.
        await onNode.return();
        await inApps.return();
      }

      const { changes } = await graphd.changes({ id: pod.id });
      assert.deepEqual(
        changes.map((c) => c.type),
        ["Updated", "Created"],
      );
    });

    await t.test("errors carry the gRPC code", async () => {
      await assert.rejects(graphd.get(999_999n), (error: unknown) => {
        assert.ok(error instanceof ConnectError, `not a ConnectError: ${error}`);
        assert.equal(error.code, Code.NotFound);
        assert.equal(error.rawMessage, "no item with id 999999");
        return true;
      });
      await assert.rejects(graphd.list({ kind: "Pod" }), (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        assert.equal(error.code, Code.InvalidArgument);
        return true;
      });
      await assert.rejects(
        async () => {
          for await (const _ of graphd.watchItem(999_999n)) {
            // unreachable
          }
        },
        (error: unknown) => error instanceof ConnectError && error.code === Code.NotFound,
      );
      await assert.rejects(
        graphd.rescrape("nowhere"),
        (error: unknown) => error instanceof ConnectError && error.code === Code.NotFound,
      );
      const [rejected] = await graphd.ingest([batch(3n, [upsert("x", "Pod", "x")])]);
      assert.equal(rejected?.applied, false);
      assert.match(rejected!.error, /operations\[0\]\.upsert\.kind/);
    });
  } finally {
    graphd.close();
    await server.stop();
  }
});

test("an unreachable server fails with Unavailable", async () => {
  const graphd = GraphdClient.connect("127.0.0.1:1", { timeoutMs: 5_000 });
  try {
    await assert.rejects(graphd.get(1n), (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.ok([Code.Unavailable, Code.DeadlineExceeded].includes(error.code), `code ${Code[error.code]}`);
      return true;
    });
  } finally {
    graphd.close();
  }
});
