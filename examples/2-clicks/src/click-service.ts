import { stringCodec } from "@toka/codec";
import { Emitter, type Logger, Processor, serveViews, silentLogger, View } from "@toka/processor";
import { type KafkaClient, kafkajsClient } from "@toka/processor/kafka";
import type { StorageFactory } from "@toka/state-store";
import { type ClickApi, serveClicks } from "./click-api.js";
import { type ClickCount, clickCountCodec, clickCounter } from "./click-counter.js";

/** Settings of one click service. */
export interface ClickServiceSettings {
  /** Bootstrap brokers, `host:port`. Required unless `client` is given. */
  readonly brokers?: readonly string[];
  /** A Kafka client of its own, e.g. the in-memory tester's. Default: kafkajs on `brokers`. */
  readonly client?: KafkaClient;
  /** The clicks topic; created with `partitions` partitions when missing. */
  readonly topic: string;
  /** The counting group; its table is `<group>-table`. */
  readonly group: string;
  /** Partitions of a created clicks topic (and so of the table). Default 4. */
  readonly partitions?: number;
  /** Interface both HTTP servers listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port of the click API (`POST /click/<user>`). Default 0: a free port. */
  readonly port?: number;
  /** Port of the query service (`GET /<table>/<user>`, `/health`, `/ready`). Default 0. */
  readonly queryPort?: number;
  /**
   * The processor's local storage. Default: memory, rebuilt from the table topic at every
   * start; `levelStorage({ path })` keeps it on disk so a restart reads only the delta.
   */
  readonly storage?: StorageFactory;
  /** Default: silent. */
  readonly logger?: Logger;
}

/** A running click service. */
export interface ClickService {
  /** Base URL of the click API: `POST <clicksUrl>/click/<user>`. */
  readonly clicksUrl: string;
  /** Base URL of the query service: `GET <queryUrl>/<table>/<user>`. */
  readonly queryUrl: string;
  /** The table topic, also the name of its view in the query service. */
  readonly table: string;
  /** Resolves with the error of the processor or view when one of them fails. */
  readonly failure: Promise<Error>;
  /**
   * Graceful shutdown: stops accepting HTTP requests (letting in-flight ones finish),
   * closes the emitter, closes the processor (it finishes its in-flight batch and
   * commits its offsets) and closes the view. Idempotent.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts the click service: a microservice that embeds the counting processor, a view
 * of its table behind the query service, and a click API that emits clicks.
 *
 * Start order is dependency order: the clicks topic, the processor (which creates the
 * table topic), the view of that table, then the HTTP servers, so the service takes
 * requests only once it can serve them. Anything started is closed again when a later
 * step fails.
 *
 * @throws TokaError when Kafka is unreachable or a topic cannot be created; Error without
 * brokers or client, or when a port cannot be listened on.
 */
export async function startClickService(settings: ClickServiceSettings): Promise<ClickService> {
  const { topic, group } = settings;
  const logger = settings.logger ?? silentLogger;
  const host = settings.host ?? "127.0.0.1";
  if (!settings.client && !settings.brokers?.length) {
    throw new Error('the click service needs "brokers" (e.g. ["127.0.0.1:19092"]) or a "client"');
  }
  const client =
    settings.client ??
    kafkajsClient({
      brokers: settings.brokers!,
      clientId: `click-service-${group}`,
      logger,
    });

  const admin = client.admin();
  await admin.connect();
  try {
    await admin.createTopics([{ topic, partitions: settings.partitions ?? 4, compacted: false }]);
  } finally {
    await admin.disconnect();
  }

  const graph = clickCounter(group, topic);
  const processor = new Processor(graph, {
    client,
    guarantee: "exactly-once",
    logger,
    ...(settings.storage ? { storage: settings.storage } : {}),
  });
  // The view has its own (memory) storage: the processor's is locked while it runs.
  const view = new View<ClickCount>({
    client,
    table: graph.tableTopic,
    codec: clickCountCodec,
    logger,
  });
  const emitter = new Emitter({ client, topic, codec: stringCodec, logger });
  const failure = new Promise<Error>((resolve) => {
    processor.on("processor.failed", resolve);
    view.on("view.failed", resolve);
  });

  // Closed in reverse start order: the front door first, the state last.
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      await close().catch((error: unknown) => logger.error("closing failed", { error }));
    }
  };
  let clicks: ClickApi;
  let queryUrl: string;
  try {
    closers.push(() => view.close());
    closers.push(() => processor.close());
    closers.push(() => emitter.close());
    await processor.start();
    await view.start();
    const query = await serveViews({
      views: { [graph.tableTopic]: view },
      port: settings.queryPort ?? 0,
      host,
      logger,
    });
    closers.push(() => query.close());
    queryUrl = query.url;
    clicks = await serveClicks({ emitter, port: settings.port ?? 0, host, logger });
    closers.push(() => clicks.close());
  } catch (error) {
    await closeAll();
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= closeAll();
    return closing;
  };
  return {
    clicksUrl: clicks.url,
    queryUrl,
    table: graph.tableTopic,
    failure,
    close,
    [Symbol.asyncDispose]: close,
  };
}
