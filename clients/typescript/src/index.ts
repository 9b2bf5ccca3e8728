/**
 * A typed client for graphd's gRPC API (`graphd.v1`), over plain HTTP/2 with the gRPC protocol.
 *
 * The message types and service descriptors come from `proto/graphd/v1/graph.proto`, generated
 * at build time by protoc-gen-es into `src/gen/` and re-exported here.
 *
 * **Ids are `bigint`.** Every `uint64` in the contract (item ids, timestamps in milliseconds,
 * ingest sequences, health counts) is a `bigint` in protobuf-es v2: write `42n`, compare with
 * `===` against other bigints, and never convert to `number` unless you know it fits.
 *
 * **Errors.** Failed calls reject (or, for streams, throw from the iterator) with a
 * {@link ConnectError} from `@connectrpc/connect`, passed through untouched: its `.code` is the
 * gRPC status code (e.g. `Code.NotFound` for an unknown id, `Code.InvalidArgument` for a bad
 * request, `Code.Unavailable` when the server cannot be reached) and its `.rawMessage` is the
 * server's message. `Code` and `ConnectError` are re-exported from this module.
 *
 * @example
 * ```ts
 * import { GraphdClient, Code, ConnectError } from "@graphd/client";
 *
 * const graphd = GraphdClient.connect("127.0.0.1:7373");
 * const { items: [pod] } = await graphd.lookup({ kind: "Kubernetes::Pod", namespace: "apps", name: "web-1" });
 * const up = await graphd.walkUp(pod.id); // pod.id is a bigint
 * graphd.close();
 * ```
 *
 * @module
 */

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type CallOptions, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

import {
  ChangesRequestSchema,
  ExternalKeySchema,
  GetRequestSchema,
  HealthCountsRequestSchema,
  IngestRequestSchema,
  IngestService,
  ListRequestSchema,
  LookupRequestSchema,
  PathRequestSchema,
  QueryService,
  RelatedRequestSchema,
  ScopeFilterSchema,
  ScrapersRequestSchema,
  RescrapeRequestSchema,
  WalkUpRequestSchema,
  WatchRequestSchema,
  type ChangesResponse,
  type ExternalKey,
  type HealthCounts,
  type IngestAck,
  type IngestRequest,
  type Item,
  type Items,
  type ListResponse,
  type PathResponse,
  type RelatedResponse,
  type ScraperStatus,
  type WalkUpResponse,
  type WatchEvent,
  type WatchRequest,
} from "./gen/graphd/v1/graph_pb.js";

export * from "./gen/graphd/v1/graph_pb.js";
export { Code, ConnectError } from "@connectrpc/connect";
export type { CallOptions } from "@connectrpc/connect";

/** An item id: a `uint64`, so a `bigint` (`42n`). Ids are dense and local to one graphd. */
export type ItemId = bigint;

/** The plain-object shapes accepted wherever a request message is expected. */
export type ExternalKeyInit = MessageInitShape<typeof ExternalKeySchema>;
export type LookupRequestInit = MessageInitShape<typeof LookupRequestSchema>;
export type RelatedRequestInit = MessageInitShape<typeof RelatedRequestSchema>;
export type ListRequestInit = MessageInitShape<typeof ListRequestSchema>;
export type HealthCountsRequestInit = MessageInitShape<typeof HealthCountsRequestSchema>;
export type PathRequestInit = MessageInitShape<typeof PathRequestSchema>;
export type ChangesRequestInit = MessageInitShape<typeof ChangesRequestSchema>;
export type ScopeFilterInit = MessageInitShape<typeof ScopeFilterSchema>;
export type IngestRequestInit = MessageInitShape<typeof IngestRequestSchema>;

export interface GraphdClientOptions {
  /**
   * Deadline for each unary call (get, lookup, related, …), in milliseconds. Not applied to
   * `watch*` or `ingest`, which may rightly run long; pass `timeoutMs` in their call options.
   * Default: none.
   */
  timeoutMs?: number;
  /** Connect interceptors, e.g. to add headers to every call. */
  interceptors?: Interceptor[];
}

export interface GetOptions {
  /** Also answer for a tombstoned item. */
  includeDeleted?: boolean;
  /** Fill `Item.documentJson` with the source document. */
  withDocument?: boolean;
}

/**
 * The base URL for an address: `"host:port"` becomes `"http://host:port"`; `"http://…"` and
 * `"https://…"` are kept as they are.
 */
export function baseUrlFor(addr: string): string {
  const trimmed = addr.trim().replace(/\/+$/, "");
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`not a graphd address: ${JSON.stringify(addr)} (want host:port or http://host:port)`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(`not a graphd address: ${JSON.stringify(addr)} (scheme must be http or https)`);
  }
  if (parsed.port === "" && !/^https?:\/\//i.test(trimmed)) {
    throw new TypeError(`not a graphd address: ${JSON.stringify(addr)} (missing port)`);
  }
  return url;
}

/** The external key of a Kubernetes object: its cluster and its uid. */
export function kubernetesKey(cluster: string, uid: string): ExternalKey {
  return create(ExternalKeySchema, { source: { case: "kubernetes", value: { cluster, uid } } });
}

/**
 * A client for one graphd server: `QueryService` and `IngestService` over one HTTP/2
 * connection, opened lazily on the first call and kept until {@link GraphdClient.close}.
 *
 * Every method returns the generated response message (or, for streams, an async iterable of
 * them); `uint64` fields are `bigint`. Failed calls reject with a `ConnectError` whose `.code`
 * is the gRPC status code (`Code.NotFound`, `Code.InvalidArgument`, `Code.Unavailable`, …).
 */
export class GraphdClient {
  /** The server's base URL, e.g. `http://127.0.0.1:7373`. */
  readonly baseUrl: string;
  /** The generated `graphd.v1.QueryService` client, for anything this wrapper leaves out. */
  readonly queryService: Client<typeof QueryService>;
  /** The generated `graphd.v1.IngestService` client. */
  readonly ingestService: Client<typeof IngestService>;

  readonly #session: Http2SessionManager;
  readonly #timeoutMs: number | undefined;

  /** @param addr `"host:port"`, `"http://host:port"` or `"https://host:port"`. */
  constructor(addr: string, options: GraphdClientOptions = {}) {
    this.baseUrl = baseUrlFor(addr);
    this.#session = new Http2SessionManager(this.baseUrl);
    this.#timeoutMs = options.timeoutMs;
    const transport = createGrpcTransport({
      baseUrl: this.baseUrl,
      sessionManager: this.#session,
      interceptors: options.interceptors ?? [],
    });
    this.queryService = createClient(QueryService, transport);
    this.ingestService = createClient(IngestService, transport);
  }

  /** The same as `new GraphdClient(addr, options)`. */
  static connect(addr: string, options: GraphdClientOptions = {}): GraphdClient {
    return new GraphdClient(addr, options);
  }

  /** Closes the HTTP/2 connection; calls still in flight (and open watches) fail with `Code.Canceled`. */
  close(): void {
    this.#session.abort();
  }

  /**
   * The item with this id (a `bigint`).
   * Rejects with `Code.NotFound` when there is none (or it is deleted and `includeDeleted` is not set).
   */
  get(id: ItemId, options: GetOptions = {}, call?: CallOptions): Promise<Item> {
    return this.queryService.get(
      create(GetRequestSchema, { by: { case: "id", value: id }, ...options }),
      this.#unary(call),
    );
  }

  /** The item with this external key (see {@link kubernetesKey}). Rejects with `Code.NotFound` when there is none. */
  getByKey(key: ExternalKeyInit, options: GetOptions = {}, call?: CallOptions): Promise<Item> {
    return this.queryService.get(
      create(GetRequestSchema, { by: { case: "key", value: create(ExternalKeySchema, key) }, ...options }),
      this.#unary(call),
    );
  }

  /** Items by natural name (kind such as `"Kubernetes::Pod"`, name, namespace, cluster) or by `shortId`. */
  lookup(request: LookupRequestInit, call?: CallOptions): Promise<Items> {
    return this.queryService.lookup(create(LookupRequestSchema, request), this.#unary(call));
  }

  /**
   * What is related to `request.id` (a `bigint`) within `depth` steps in `direction`.
   * Rejects with `Code.ResourceExhausted` when the walk would return more than its limit.
   */
  related(request: RelatedRequestInit, call?: CallOptions): Promise<RelatedResponse> {
    return this.queryService.related(create(RelatedRequestSchema, request), this.#unary(call));
  }

  /** The item's ancestors (owners, node, namespace, …) and the links between them; ids in `links` are `bigint`. */
  walkUp(id: ItemId, options: { includeDeleted?: boolean } = {}, call?: CallOptions): Promise<WalkUpResponse> {
    return this.queryService.walkUp(create(WalkUpRequestSchema, { id, ...options }), this.#unary(call));
  }

  /** One page of items in a scope; pass `nextCursor` back as `cursor` for the next (empty when done). See {@link listAll}. */
  list(request: ListRequestInit = {}, call?: CallOptions): Promise<ListResponse> {
    return this.queryService.list(create(ListRequestSchema, request), this.#unary(call));
  }

  /** Every item matching `request`, page by page (`request.limit` is the page size). */
  async *listAll(request: ListRequestInit = {}, call?: CallOptions): AsyncGenerator<Item, void, undefined> {
    let cursor = request.cursor ?? "";
    do {
      const page = await this.list({ ...request, cursor }, call);
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor !== "");
  }

  /** How many items of a scope (and kind) are healthy, warning, unhealthy, unknown; counts are `bigint`. */
  countByHealth(request: HealthCountsRequestInit = {}, call?: CallOptions): Promise<HealthCounts> {
    return this.queryService.countByHealth(create(HealthCountsRequestSchema, request), this.#unary(call));
  }

  /** Each scraper the server runs: resources listed, objects, errors, the last sync (`lastSyncAt`: ms since the epoch, `0n` for never). */
  async scrapers(call?: CallOptions): Promise<ScraperStatus[]> {
    const response = await this.queryService.scrapers(create(ScrapersRequestSchema, {}), this.#unary(call));
    return response.scrapers;
  }

  /**
   * Asks the server to scrape the AWS source `name` (as {@link scrapers} lists it) again now, in
   * every region; rejects with `Code.NotFound` for an unknown source and `Code.FailedPrecondition`
   * for a Kubernetes cluster (watched live).
   */
  async rescrape(name: string, call?: CallOptions): Promise<void> {
    await this.ingestService.rescrape(create(RescrapeRequestSchema, { name }), this.#unary(call));
  }

  /** The shortest path between two items (`from`, `to`: `bigint`); rejects with `Code.NotFound` when there is none. */
  path(request: PathRequestInit, call?: CallOptions): Promise<PathResponse> {
    return this.queryService.path(create(PathRequestSchema, request), this.#unary(call));
  }

  /** Recent changes to an item (and, with `depth`, to what is related to it), newest first. */
  changes(request: ChangesRequestInit, call?: CallOptions): Promise<ChangesResponse> {
    return this.queryService.changes(create(ChangesRequestSchema, request), this.#unary(call));
  }

  /**
   * Changes to an item (a `bigint` id) and to what is related to it within `depth` steps, either
   * way, as they happen, until the iteration stops.
   *
   * The call is made when iteration begins; `call.onHeader` fires once the server has
   * subscribed, so changes after it are seen. Leaving a `for await` loop (or calling `return()`
   * on the iterator) cancels the call, and so does `call.signal`. The server ends a watch that
   * reads too slowly with `Code.Aborted`; an unknown item fails with `Code.NotFound`.
   */
  watchItem(id: ItemId, depth = 0, call?: CallOptions): AsyncGenerator<WatchEvent, void, undefined> {
    return this.#watch(create(WatchRequestSchema, { target: { case: "item", value: id }, depth }), call);
  }

  /** Changes to every item of a scope, as they happen; see {@link watchItem} for how to stop. */
  watchScope(scope: ScopeFilterInit, call?: CallOptions): AsyncGenerator<WatchEvent, void, undefined> {
    return this.#watch(
      create(WatchRequestSchema, { target: { case: "scope", value: create(ScopeFilterSchema, scope) } }),
      call,
    );
  }

  /**
   * Sends batches on one ingest stream and returns their acknowledgements, one per batch, in
   * order. Each batch is atomic; a rejected batch is not an error of the call: its ack has
   * `applied: false` and `error` names the operation. `sequence` is a `bigint`, echoed in the ack.
   */
  async ingest(
    batches: Iterable<IngestRequestInit> | AsyncIterable<IngestRequestInit>,
    call?: CallOptions,
  ): Promise<IngestAck[]> {
    const acks: IngestAck[] = [];
    for await (const ack of this.ingestService.ingest(requests(batches), call)) {
      acks.push(ack);
    }
    return acks;
  }

  #unary(call: CallOptions | undefined): CallOptions | undefined {
    if (this.#timeoutMs === undefined || call?.timeoutMs !== undefined) {
      return call;
    }
    return { ...call, timeoutMs: this.#timeoutMs };
  }

  async *#watch(request: WatchRequest, call: CallOptions = {}): AsyncGenerator<WatchEvent, void, undefined> {
    // The generated client's iterator has no return(): leaving a loop would not cancel the call.
    // Cancel it here when the consumer stops, as well as on the caller's own signal.
    const controller = new AbortController();
    const outer = call.signal;
    const forward = (): void => controller.abort(outer?.reason);
    if (outer?.aborted) {
      forward();
    } else {
      outer?.addEventListener("abort", forward, { once: true });
    }
    try {
      yield* this.queryService.watch(request, { ...call, signal: controller.signal });
    } finally {
      outer?.removeEventListener("abort", forward);
      controller.abort();
    }
  }
}

async function* requests(
  batches: Iterable<IngestRequestInit> | AsyncIterable<IngestRequestInit>,
): AsyncGenerator<IngestRequest, void, undefined> {
  for await (const batch of batches) {
    yield create(IngestRequestSchema, batch);
  }
}
