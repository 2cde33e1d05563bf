import type { IncomingMessage, ServerResponse } from "node:http";
import {
  consoleLogger,
  deadLetterTopic,
  type Logger,
  type MountedMonitor,
  type SecurityOptions,
} from "@toka/processor";
import { failedRequestReply, MONITOR_PATH, type RequestRules, refusal } from "@toka/processor/http";
import { type ClientAdmin, kafkajsClient } from "@toka/processor/kafka";
import { CommitRate } from "./commit-rate.js";
import { readDeadLetters, valuePreview } from "./dead-letters.js";
import { groupOverview } from "./group-overview.js";
import { MonitorAssets, PAGE_POLICY } from "./monitor-assets.js";
import { ProcessorWatch, type WatchableProcessor } from "./processor-watch.js";
import { lookupTableKey } from "./table-lookup.js";
import type { ThroughputWindowOptions } from "./throughput-window.js";

/** Options of {@link createMonitor}; `ssl` and `sasl` as for a processor (docs/security.md). */
export interface MonitorOptions extends SecurityOptions {
  /** Bootstrap brokers of the cluster, `host:port`. */
  readonly brokers: readonly string[];
  /**
   * Processors of this process: their partition states, recovery progress and
   * throughput come from their events. Default none: the monitor then shows what the
   * cluster knows (members, assignment, committed offsets).
   */
  readonly processors?: readonly WatchableProcessor[];
  /** The throughput window and its buckets. Default 5 minutes in 5-second buckets. */
  readonly throughput?: ThroughputWindowOptions;
  /** Newest dead letters shown per partition of a dead-letter topic. Default 50. */
  readonly deadLettersPerPartition?: number;
  /** Characters of a dead letter's value shown. Default 200. */
  readonly previewChars?: number;
  /** Default: JSON lines on stderr at `warn`. */
  readonly logger?: Logger;
}

/** Named defaults of {@link MonitorOptions}. */
export const MONITOR_DEFAULTS = { deadLettersPerPartition: 50, previewChars: 200 } as const;

/** A web monitor: mount it on a query service (`serveViews({ monitor })`) or serve it alone. */
export interface Monitor extends MountedMonitor {
  /** Stops watching the processors and disconnects from Kafka. Idempotent. */
  close(): Promise<void>;
}

/** A response to send: status and JSON body. */
interface Reply {
  readonly status: number;
  readonly body: unknown;
}

/**
 * The web monitor under `/monitor/`: a page (Preact) polling a JSON API.
 *
 * - `GET /monitor/api/groups`: the toka groups of the cluster (consumer groups with a
 *   `<group>-table` or `<group>-dlq` topic) and those of this process, with state and members.
 * - `GET /monitor/api/groups/<group>`: members, partitions with owner, state, lag,
 *   recovery and the lag of standby replicas kept here, and throughput over the last
 *   minutes.
 * - `GET /monitor/api/groups/<group>/dlq`: the newest dead letters with error, source
 *   coordinates and value preview.
 * - `GET /monitor/api/groups/<group>/table/<key>`: the key's value, dedup record and history.
 *
 * The API answers only requests that pass the query service's rules (Host allow-list,
 * bearer token); the page and its scripts carry no data and need only an allowed Host,
 * so a browser can load them and then send the token with its API calls.
 */
export function createMonitor(options: MonitorOptions): Monitor {
  const logger = options.logger ?? consoleLogger();
  const security = { ssl: options.ssl, sasl: options.sasl };
  const client = kafkajsClient({
    brokers: options.brokers,
    logger,
    clientId: "toka-monitor",
    ...security,
  });
  let admin: Promise<ClientAdmin> | undefined;
  const connectedAdmin = () => {
    admin ??= (async () => {
      const a = client.admin();
      await a.connect();
      return a;
    })().catch((error: unknown) => {
      admin = undefined;
      throw error;
    });
    return admin;
  };
  const watches = (options.processors ?? []).map((p) => new ProcessorWatch(p, options.throughput));
  const commitRates = new Map<string, CommitRate>();
  const assets = new MonitorAssets();
  const perPartition = options.deadLettersPerPartition ?? MONITOR_DEFAULTS.deadLettersPerPartition;
  const previewChars = options.previewChars ?? MONITOR_DEFAULTS.previewChars;

  const api = async (path: string): Promise<Reply> => {
    if (path === "groups") return { status: 200, body: { groups: await listGroups() } };
    const match = /^groups\/([^/]+)(?:\/(dlq|table)(?:\/(.*))?)?$/.exec(path);
    if (!match) return { status: 404, body: { error: `no monitor API at /api/${path}` } };
    const group = decodeURIComponent(match[1]!);
    const [, , part, rest] = match;
    if (part === undefined) {
      const local = watches.filter((w) => w.group === group).map((w) => w.snapshot());
      let rate = commitRates.get(group);
      if (!rate) {
        rate = new CommitRate(options.throughput);
        commitRates.set(group, rate);
      }
      const sampler = rate;
      const overview = await groupOverview(await connectedAdmin(), group, local, (total) =>
        sampler.sample(total),
      );
      return { status: 200, body: overview };
    }
    if (part === "dlq" && rest === undefined) {
      const topic = deadLetterTopic(group);
      const letters = await readDeadLetters(client, topic, { lastPerPartition: perPartition });
      if (!letters) return { status: 404, body: { error: `no dead-letter topic ${topic}` } };
      return {
        status: 200,
        body: {
          topic,
          letters: letters.reverse().map((l) => ({
            partition: l.partition,
            offset: l.offset,
            timestamp: l.timestamp,
            key: l.key,
            error: l.error,
            source: l.source,
            truncated: l.truncated,
            preview: valuePreview(l.record.value, previewChars),
          })),
        },
      };
    }
    if (part === "table" && rest) {
      return { status: 200, body: await lookupTableKey(client, group, decodeURIComponent(rest)) };
    }
    return { status: 404, body: { error: `no monitor API at /api/${path}` } };
  };

  const listGroups = async () => {
    const a = await connectedAdmin();
    const [groups, topics] = await Promise.all([a.listGroups(), a.listTopics()]);
    const known = new Set(topics);
    const names = new Set(groups.filter((g) => known.has(`${g}-table`) || known.has(`${g}-dlq`)));
    for (const w of watches) names.add(w.group);
    return Promise.all(
      [...names].sort().map(async (group) => {
        const described = await a.describeGroup(group);
        return {
          group,
          state: described.state,
          members: described.members.length,
          localInstances: watches.filter((w) => w.group === group).length,
        };
      }),
    );
  };

  const respond = async (req: IncomingMessage, res: ServerResponse, rules: RequestRules) => {
    const url = new URL(req.url ?? "/", "http://monitor.invalid");
    const path = url.pathname.slice(MONITOR_PATH.length);
    const isApi = path.startsWith("/api/");
    // The page and its scripts hold no data: a browser loads them without the token.
    const refused = refusal(req, isApi ? rules : { ...rules, token: undefined });
    if (refused) return json(res, refused.status, { error: refused.error }, refused.headers);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return json(
        res,
        405,
        { error: `method ${req.method} is not allowed; use GET` },
        {
          allow: "GET, HEAD",
        },
      );
    }
    if (path === "") {
      res.writeHead(308, { location: `${MONITOR_PATH}/` });
      return res.end();
    }
    if (isApi) {
      let reply: Reply;
      try {
        reply = await api(path.slice("/api/".length));
      } catch (error) {
        reply = failedRequestReply(error, logger, "monitor", req.url);
      }
      return json(res, reply.status, reply.body);
    }
    const asset = await assets.get(path.slice(1));
    if (!asset) return json(res, 404, { error: `no monitor file ${path}` });
    res.writeHead(200, {
      "content-type": asset.contentType,
      "content-length": asset.body.length,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "content-security-policy": PAGE_POLICY,
      "referrer-policy": "no-referrer",
    });
    res.end(req.method === "HEAD" ? undefined : asset.body);
  };

  let closing: Promise<void> | undefined;
  return {
    handle(req, res, rules) {
      respond(req, res, rules).catch((error: unknown) => {
        logger.error("monitor could not answer", { error, url: req.url });
        res.destroy();
      });
    },
    close() {
      closing ??= (async () => {
        for (const w of watches) w.close();
        const a = await admin?.catch(() => undefined);
        await a?.disconnect();
      })();
      return closing;
    },
  };
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v));
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}
