import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { SecureContextOptions } from "node:tls";
import { z } from "zod";
import { isTokaError, TokaError, TokaErrorCode } from "./errors.js";
import { ProcessorStatus } from "./events.js";
import { consoleLogger, type Logger } from "./logger.js";
import {
  forwardKeyRead,
  hopsOf,
  type KeyLocation,
  MAX_QUERY_HOPS,
  QueryHeader,
} from "./query-forwarding.js";
import {
  failedRequestReply,
  isMonitorPath,
  LOOPBACK_HOSTS,
  type RequestRules,
  refusal,
} from "./request-guard.js";
import { type ViewIterateOptions, ViewStatus } from "./view.js";

/** What the query service needs of a view; every {@link View} is one. */
export interface QueryableView {
  readonly status: ViewStatus;
  get(key: string): Promise<unknown>;
  iterate(options?: ViewIterateOptions): AsyncIterable<[key: string, value: unknown]>;
  /**
   * For windowed views (`processor.ownedWindows(name)`): the windows of `key` starting in
   * `[from, to]`, answered to `GET /<view>/<key>?from=<ms>&to=<ms>`.
   */
  fetchWindows?(key: string, from: number, to: number): Promise<unknown[]>;
  /**
   * For a table of which this instance holds only some partitions (a processor's own
   * table, `processor.ownedTable()`): where `key` is read. A key another instance owns is
   * forwarded to that instance's query service. Absent: every key is read here.
   */
  locate?(key: string): KeyLocation;
}

/** Options of {@link serveViews}. */
export interface QueryServiceOptions {
  /**
   * The views to serve, by the name that is their first path segment (`/<name>/<key>`).
   * Names use letters, digits, `.`, `_`, `~` and `-`; `health` and `ready` are taken.
   */
  readonly views: Readonly<Record<string, QueryableView>>;
  /**
   * Processors whose health the service reports, by name: `/health` fails while one of
   * them has failed or closed, `/ready` until each is running (every owned partition
   * recovered). Default none.
   */
  readonly processors?: Readonly<Record<string, { readonly status: ProcessorStatus }>>;
  /** TCP port. Default 0: a free port the OS picks (read it from `url`). */
  readonly port?: number;
  /** Interface to listen on. Default `"127.0.0.1"` (not reachable from other hosts). */
  readonly host?: string;
  /** Items of a listing without `limit`. Default 100. */
  readonly defaultLimit?: number;
  /** Most items of a listing; a larger `limit` is a 400. Default 1000. */
  readonly maxLimit?: number;
  /** Default: JSON lines on stderr at `warn`. */
  readonly logger?: Logger;
  /**
   * Host header names answered (a page served from another name, e.g. after DNS
   * rebinding, is refused with 403); `["*"]` answers any. Default: the loopback names
   * and `host`.
   */
  readonly allowedHosts?: readonly string[];
  /**
   * Requires `Authorization: Bearer <token>` on every route but `/health` and `/ready`
   * (401 otherwise). Default: none.
   */
  readonly token?: string;
  /** Serves HTTPS with these certificates (`key`, `cert`, ...). Default: plain HTTP. */
  readonly tls?: SecureContextOptions;
  /** Longest time to receive a request's headers, in ms (slow clients). Default 10,000. */
  readonly headersTimeoutMs?: number;
  /** Longest time for a whole request, in ms. Default 30,000. */
  readonly requestTimeoutMs?: number;
  /**
   * A web monitor (`createMonitor` of `@toka/monitor`) answered under `/monitor/`. It
   * checks requests with this service's Host allow-list and token. Default: none.
   */
  readonly monitor?: MountedMonitor;
}

/** What the query service needs of a web monitor it serves under `/monitor/`. */
export interface MountedMonitor {
  /** Answers a request under `/monitor`, checking it against `rules` first. */
  handle(req: IncomingMessage, res: ServerResponse, rules: RequestRules): void;
}

/** Named defaults of {@link QueryServiceOptions}. */
export const QUERY_SERVICE_DEFAULTS = {
  port: 0,
  host: "127.0.0.1",
  defaultLimit: 100,
  maxLimit: 1000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  /** Bytes of request headers; larger ones get 431. */
  maxHeaderBytes: 16 * 1024,
} as const;

/** A running query service. */
export interface QueryService {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting requests, lets in-flight ones finish, closes connections. Idempotent. */
  close(): Promise<void>;
  /** Calls `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const RESERVED = new Set(["health", "ready", "monitor"]);
const LIST_PARAMS = new Set(["limit", "prefix", "after"]);
/** How long `close()` lets in-flight requests finish before it cuts their connections. */
const CLOSE_GRACE_MS = 5000;
/** A processor in these states makes no more progress: the process is not live. */
const STOPPED: ReadonlySet<ProcessorStatus> = new Set([
  ProcessorStatus.Failed,
  ProcessorStatus.Closed,
]);
const SERVABLE: ReadonlySet<ViewStatus> = new Set([ViewStatus.Running, ViewStatus.Reconnecting]);

const schema = z
  .object({
    views: z.record(
      z.string(),
      z.custom<QueryableView>(
        (v) =>
          typeof v === "object" &&
          v !== null &&
          typeof (v as QueryableView).get === "function" &&
          typeof (v as QueryableView).iterate === "function",
        "expected a View",
      ),
    ),
    processors: z
      .record(
        z.string(),
        z.custom<{ status: ProcessorStatus }>(
          (p) => typeof p === "object" && p !== null && "status" in p,
          "expected a Processor",
        ),
      )
      .optional(),
    port: z.number().int().min(0).max(65535).optional(),
    host: z.string().min(1).optional(),
    defaultLimit: z.number().int().positive().optional(),
    maxLimit: z.number().int().positive().optional(),
    allowedHosts: z.array(z.string().min(1)).optional(),
    token: z.string().min(16, "use a token of at least 16 characters").optional(),
    tls: z.object({}).passthrough().optional(),
    headersTimeoutMs: z.number().int().positive().optional(),
    requestTimeoutMs: z.number().int().positive().optional(),
    monitor: z
      .custom<MountedMonitor>(
        (m) =>
          typeof m === "object" && m !== null && typeof (m as MountedMonitor).handle === "function",
        "expected a monitor of @toka/monitor's createMonitor",
      )
      .optional(),
  })
  .refine(
    (o) =>
      Object.keys(o.views).length + Object.keys(o.processors ?? {}).length > 0 ||
      o.monitor !== undefined,
    {
      message: "give at least one view, processor or monitor, e.g. { views: { balances: view } }",
      path: ["views"],
    },
  )
  .refine((o) => (o.defaultLimit ?? 100) <= (o.maxLimit ?? QUERY_SERVICE_DEFAULTS.maxLimit), {
    message: "defaultLimit must not exceed maxLimit",
    path: ["defaultLimit"],
  });

/** A response to send: status, JSON body (or its text, relayed) and extra headers. */
interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** The body as JSON text already, e.g. another instance's answer. */
  readonly json?: string;
}

/**
 * Serves views over HTTP (`node:http`), for embedding in a service. All routes are
 * `GET` (or `HEAD`) and answer JSON:
 *
 * - `GET /<view>/<key>?from=<ms>&to=<ms>` of a windowed view (`processor.ownedWindows`):
 *   200 with the key's windows starting in that range (`[{ key, start, end, value,
 *   final }]`, by start; both bounds optional), read or forwarded like a key.
 * - `GET /<view>/<key>`: 200 with the value; 404 `{ error }` for a missing key or an
 *   unknown view. The key is the URL-decoded rest of the path (encode `/` as `%2F` or not).
 *   Every answer about a key (200, 404 for a missing key, 503) names the instance that
 *   answered in the `toka-answered-by` header: its advertised query address, else this
 *   service's `url`. A view with `locate` (a processor's own table) answers for keys of
 *   other instances by forwarding the request to the owner's query service (at most
 *   {@link MAX_QUERY_HOPS} times, counted in `toka-query-hops`) and relaying its answer;
 *   while the owner is unknown (the group is rebalancing) or does not answer, 503
 *   `{ error, retriable }` with `Retry-After`. Listings are not forwarded: they list the
 *   partitions this instance holds.
 * - `GET /<view>?limit=N&prefix=P&after=K`: 200 `{ items: [{ key, value }], next? }` in
 *   key order; `next` is the `after` of the next page. `limit` defaults to
 *   `defaultLimit` (100); a bad or too large one is a 400.
 * - `GET /health` (liveness): 200 while the process can make progress, 503 once a
 *   processor has failed or closed. `GET /ready` (readiness): 200 when every view and
 *   every processor is `running` (a processor is running once every partition it owns
 *   is recovered), else 503. Both list each view's and processor's status; usable as
 *   Kubernetes probes.
 * - `GET /`: the views and their statuses.
 *
 * A view that is not `running` or `reconnecting` answers 503 `{ error, status }`. Other
 * methods get 405, malformed requests 400, and a failing handler 500 `{ error, code? }`;
 * the server keeps serving. Values are JSON with bigints as strings and bytes as base64.
 *
 * @returns once listening.
 * @throws TokaError `TOKA_INVALID_CONFIG` for invalid options (naming the option) or
 * when the port cannot be listened on (e.g. in use).
 */
export async function serveViews(options: QueryServiceOptions): Promise<QueryService> {
  const parsed = schema.safeParse(options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TokaError(
      TokaErrorCode.InvalidConfig,
      `invalid query service option "${issue.path.join(".")}": ${issue.message}`,
      { cause: parsed.error },
    );
  }
  for (const name of Object.keys(options.views)) {
    const problem = !/^[A-Za-z0-9._~-]+$/.test(name)
      ? "a view name uses only letters, digits, '.', '_', '~' and '-'"
      : RESERVED.has(name)
        ? "the names 'health', 'ready' and 'monitor' are taken by the service's own routes"
        : undefined;
    if (problem) {
      throw new TokaError(
        TokaErrorCode.InvalidConfig,
        `invalid query service option "views.${name}": ${problem}`,
      );
    }
  }
  const host = options.host ?? QUERY_SERVICE_DEFAULTS.host;
  const config = {
    // This service's url, known once it listens (before any request arrives).
    instance: "",
    rules: {
      allowedHosts: new Set(
        (options.allowedHosts ?? [...LOOPBACK_HOSTS, host]).map((h) =>
          h.replace(/^\[|\]$/g, "").toLowerCase(),
        ),
      ),
      token: options.token,
    },
    views: new Map(Object.entries(options.views)),
    processors: new Map(Object.entries(options.processors ?? {})),
    defaultLimit: options.defaultLimit ?? QUERY_SERVICE_DEFAULTS.defaultLimit,
    maxLimit: options.maxLimit ?? QUERY_SERVICE_DEFAULTS.maxLimit,
    logger: options.logger ?? consoleLogger(),
  };
  const { monitor } = options;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (monitor && isMonitorPath(req.url)) return monitor.handle(req, res, config.rules);
    respond(config, req, res).catch((error: unknown) => {
      config.logger.error("query service could not answer", { error, url: req.url });
      res.destroy();
    });
  };
  const headersTimeout = options.headersTimeoutMs ?? QUERY_SERVICE_DEFAULTS.headersTimeoutMs;
  const serverOptions = {
    maxHeaderSize: QUERY_SERVICE_DEFAULTS.maxHeaderBytes,
    headersTimeout,
    requestTimeout: options.requestTimeoutMs ?? QUERY_SERVICE_DEFAULTS.requestTimeoutMs,
    // Node checks the timeouts above only this often (30 s by default).
    connectionsCheckingInterval: Math.min(1_000, headersTimeout),
  };
  const server: Server = options.tls
    ? createHttpsServer({ ...serverOptions, ...options.tls }, handler)
    : createServer(serverOptions, handler);
  const port = await listen(server, options.port ?? QUERY_SERVICE_DEFAULTS.port, host);
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      const cutoff = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      server.close(() => {
        clearTimeout(cutoff);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closing;
  };
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const url = `${options.tls ? "https" : "http"}://${urlHost}:${port}`;
  config.instance = url;
  return {
    url,
    port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (cause: NodeJS.ErrnoException) => {
      reject(
        new TokaError(
          TokaErrorCode.InvalidConfig,
          cause.code === "EADDRINUSE"
            ? `the query service cannot listen on ${host}:${port}: the port is in use; choose another "port" (0 picks a free one)`
            : `the query service cannot listen on ${host}:${port}: ${cause.message}; check "host" and "port"`,
          { cause },
        ),
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

interface Config {
  readonly rules: RequestRules;
  /** Named in `toka-answered-by` for keys read here, unless the view names its instance. */
  readonly instance: string;
  readonly views: ReadonlyMap<string, QueryableView>;
  readonly processors: ReadonlyMap<string, { readonly status: ProcessorStatus }>;
  readonly defaultLimit: number;
  readonly maxLimit: number;
  readonly logger: Logger;
}

async function respond(config: Config, req: IncomingMessage, res: ServerResponse) {
  let reply: Reply;
  const refused = refusal(req, config.rules);
  try {
    reply = refused
      ? { status: refused.status, body: { error: refused.error }, headers: refused.headers ?? {} }
      : await route(config, req);
  } catch (error) {
    reply = { ...failedRequestReply(error, config.logger, "query service", req.url), headers: {} };
  }
  const body = reply.json ?? JSON.stringify(reply.body, jsonReplacer);
  res.writeHead(reply.status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...reply.headers,
  });
  res.end(body);
}

async function route(config: Config, req: IncomingMessage): Promise<Reply> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return {
      status: 405,
      body: { error: `method ${req.method} is not allowed; use GET` },
      headers: { allow: "GET, HEAD" },
    };
  }
  let url: URL;
  try {
    url = new URL(req.url ?? "/", "http://query.invalid");
  } catch {
    return badRequest("the request URL is malformed");
  }
  const path = url.pathname;
  if (path === "/") return { status: 200, body: { views: statuses(config) } };
  if (path === "/health") {
    const processors = processorStatuses(config);
    const live = Object.values(processors).every((s) => !STOPPED.has(s));
    return {
      status: live ? 200 : 503,
      body: { status: live ? "up" : "down", views: statuses(config), processors },
    };
  }
  if (path === "/ready") {
    const views = statuses(config);
    const processors = processorStatuses(config);
    const ready =
      Object.values(views).every((s) => s === ViewStatus.Running) &&
      Object.values(processors).every((s) => s === ProcessorStatus.Running);
    return { status: ready ? 200 : 503, body: { ready, views, processors } };
  }
  const slash = path.indexOf("/", 1);
  const name = slash < 0 ? path.slice(1) : path.slice(1, slash);
  const view = config.views.get(name);
  if (!view) {
    return {
      status: 404,
      body: { error: `no view "${name}"; served views: ${[...config.views.keys()].join(", ")}` },
    };
  }
  if (!SERVABLE.has(view.status)) {
    return {
      status: 503,
      body: {
        error: `view "${name}" is ${view.status}; try again once it is running`,
        status: view.status,
      },
      headers: { "retry-after": "1" },
    };
  }
  if (slash < 0) {
    if (view.fetchWindows) {
      return badRequest(
        `view "${name}" holds windows, read per key: GET /${name}/<key>?from=<ms>&to=<ms>`,
      );
    }
    return list(config, view, url.searchParams);
  }
  const rawKey = path.slice(slash + 1);
  if (rawKey === "") return badRequest(`the key is empty: get /${name}/<key>, or list /${name}`);
  let key: string;
  try {
    key = decodeURIComponent(rawKey);
  } catch {
    return badRequest("the key is not valid percent-encoded UTF-8");
  }
  const range = view.fetchWindows ? timeRange(url.searchParams) : undefined;
  if (typeof range === "string") return badRequest(range);
  const location = view.locate?.(key) ?? LOCAL;
  if (location.kind === "remote") return forward(req, name, key, location.address, url.search);
  const answeredBy = { [QueryHeader.AnsweredBy]: config.instance };
  if (location.kind === "unavailable") {
    return {
      status: 503,
      body: { error: location.reason, retriable: location.retriable },
      headers: location.retriable ? { ...answeredBy, "retry-after": "1" } : answeredBy,
    };
  }
  if (location.instance !== undefined) answeredBy[QueryHeader.AnsweredBy] = location.instance;
  let value: unknown;
  try {
    value = range ? await view.fetchWindows!(key, range.from, range.to) : await view.get(key);
  } catch (error) {
    // A partition that moved away between `locate` and the read: ask again.
    if (!isTokaError(error) || !(error as TokaError).retriable) throw error;
    const reply = unavailable((error as TokaError).message);
    return { ...reply, headers: { ...reply.headers, ...answeredBy } };
  }
  if (value === undefined) {
    return {
      status: 404,
      body: { error: `no value for key "${key}" in view "${name}"` },
      headers: answeredBy,
    };
  }
  return { status: 200, body: value, headers: answeredBy };
}

/**
 * The `from` and `to` of a windows read (milliseconds since the epoch, both optional:
 * all times), or what is wrong with them.
 */
function timeRange(params: URLSearchParams): { from: number; to: number } | string {
  for (const name of params.keys()) {
    if (name !== "from" && name !== "to") {
      return `unknown parameter "${name}"; a windows read takes from and to (milliseconds since the epoch)`;
    }
  }
  const bound = (name: string, fallback: number) => {
    const text = params.get(name);
    if (text === null) return fallback;
    return /^\d{1,16}$/.test(text) ? Number(text) : undefined;
  };
  const from = bound("from", 0);
  const to = bound("to", Number.POSITIVE_INFINITY);
  if (from === undefined || to === undefined) {
    return `"from" and "to" must be milliseconds since the epoch (whole numbers), got from=${params.get("from")} to=${params.get("to")}`;
  }
  return { from, to };
}

const LOCAL: KeyLocation = { kind: "local" };

/** Asks the owner of `key` and relays its answer; 503 when it cannot be reached in time. */
async function forward(
  req: IncomingMessage,
  view: string,
  key: string,
  address: string,
  search: string,
): Promise<Reply> {
  const hops = hopsOf(req.headers[QueryHeader.Hops]);
  if (Number.isNaN(hops)) return badRequest(`"${QueryHeader.Hops}" must be a small integer`);
  if (hops >= MAX_QUERY_HOPS) {
    return unavailable(
      `key "${key}" of view "${view}" was forwarded ${hops} times without reaching its owner: ownership is changing (a rebalance); retry`,
    );
  }
  try {
    const answer = await forwardKeyRead({
      address,
      view,
      key,
      search,
      method: req.method === "HEAD" ? "HEAD" : "GET",
      hops,
      authorization: req.headers.authorization,
    });
    return { status: answer.status, body: undefined, json: answer.body, headers: answer.headers };
  } catch (cause) {
    return unavailable(
      `the owner of key "${key}" of view "${view}" at ${address} did not answer (${(cause as Error).message}); ownership may be changing (a rebalance); retry`,
    );
  }
}

function unavailable(error: string): Reply {
  return { status: 503, body: { error, retriable: true }, headers: { "retry-after": "1" } };
}

async function list(config: Config, view: QueryableView, params: URLSearchParams): Promise<Reply> {
  for (const name of params.keys()) {
    if (!LIST_PARAMS.has(name))
      return badRequest(`unknown parameter "${name}"; a listing takes limit, prefix and after`);
  }
  let limit = config.defaultLimit;
  const rawLimit = params.get("limit");
  if (rawLimit !== null) {
    limit = /^\d+$/.test(rawLimit) ? Number(rawLimit) : Number.NaN;
    if (!(limit >= 1 && limit <= config.maxLimit))
      return badRequest(
        `"limit" must be an integer from 1 to ${config.maxLimit}, got "${rawLimit}"`,
      );
  }
  const prefix = params.get("prefix");
  const after = params.get("after");
  const items: { key: string; value: unknown }[] = [];
  let more = false;
  for await (const [key, value] of view.iterate({
    limit: limit + 1,
    ...(prefix === null ? {} : { prefix }),
    ...(after === null ? {} : { gt: after }),
  })) {
    if (items.length === limit) {
      more = true;
      break;
    }
    items.push({ key, value });
  }
  return { status: 200, body: more ? { items, next: items.at(-1)!.key } : { items } };
}

function processorStatuses(config: Config): Record<string, ProcessorStatus> {
  return Object.fromEntries([...config.processors].map(([name, p]) => [name, p.status]));
}

function statuses(config: Config): Record<string, ViewStatus> {
  return Object.fromEntries([...config.views].map(([name, view]) => [name, view.status]));
}

function badRequest(error: string): Reply {
  return { status: 400, body: { error } };
}

/** JSON of values: bigints as decimal strings, bytes as base64. */
function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  // `toJSON` (e.g. Buffer's) already ran on `value`; the holder still has the original.
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Uint8Array)
    return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString(
      "base64",
    );
  if (typeof value === "bigint") return value.toString();
  return value;
}
