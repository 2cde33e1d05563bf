import { stringCodec } from "@toka/codec";
import {
  Emitter,
  type GroupGraph,
  type Logger,
  Processor,
  serveViews,
  silentLogger,
  tableTopic,
  View,
} from "@toka/processor";
import { type KafkaClient, kafkajsClient } from "@toka/processor/kafka";
import { blockCommandCodec, blocker, blockStateCodec } from "./blocker.js";
import { type ChatApi, serveChat } from "./chat-api.js";
import { collector, DEFAULT_INBOX_SIZE, inboxCodec } from "./collector.js";
import { DEFAULT_SPAM_RULE, detector, type SpamRule } from "./detector.js";
import { filter } from "./filter.js";
import { messageCodec } from "./message.js";
import { type MessagingNames, messagingNames, streamsOf } from "./names.js";
import { translator } from "./translator.js";

/** Settings of one messaging service. */
export interface MessagingSettings {
  /** Bootstrap brokers, `host:port`. Required unless `client` is given. */
  readonly brokers?: readonly string[];
  /** A Kafka client of its own, e.g. the in-memory tester's. Default: kafkajs on `brokers`. */
  readonly client?: KafkaClient;
  /** Topic and group names. Default `messagingNames()`. */
  readonly names?: MessagingNames;
  /**
   * Partitions of the streams the service creates. One count for all: the filter joins
   * the blocker's table, whose count is that of `block-user`, with `message-sent`.
   * Default 4.
   */
  readonly partitions?: number;
  /** Messages an inbox keeps. Default {@link DEFAULT_INBOX_SIZE}. */
  readonly inboxSize?: number;
  /** Default {@link DEFAULT_SPAM_RULE}. */
  readonly spamRule?: SpamRule;
  /** Translations written before the filter starts, so its first messages see them. */
  readonly translations?: Readonly<Record<string, string>>;
  /** Interface both HTTP servers listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port of the chat API. Default 0: a free port. */
  readonly port?: number;
  /** Port of the query service (`/inbox/<user>`, `/blocked/<user>`, ...). Default 0. */
  readonly queryPort?: number;
  /** Default: silent. */
  readonly logger?: Logger;
}

/** A running messaging service. */
export interface MessagingService {
  /** Base URL of the chat API: `POST <apiUrl>/send/<from>`, ... */
  readonly apiUrl: string;
  /** Base URL of the query service: `GET <queryUrl>/inbox/<user>`, ... */
  readonly queryUrl: string;
  readonly names: MessagingNames;
  /** Resolves with the error of a processor or view when one of them fails. */
  readonly failure: Promise<Error>;
  /**
   * Graceful shutdown: stops taking HTTP requests, closes the emitters, the processors
   * (each finishes its in-flight batch and commits) and the views. Idempotent.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** How long start-up waits for the seeded translations to be in the translator's table. */
const SEED_TIMEOUT_MS = 30_000;

/**
 * Starts the chat service of Goka's messaging example in one process: the five groups
 * (blocker, translator, filter, collector, spam detector), views of the inbox, block and
 * translation tables behind the query service, and the chat API that emits.
 *
 * The groups start in dependency order: the blocker and translator first (the filter
 * joins and looks up their tables, which must exist), then the filter, the collector and
 * the detector. Each group could as well run in a process of its own: they share
 * nothing but topics.
 *
 * @throws TokaError when Kafka is unreachable, a topic cannot be created or a group's
 * topics are not co-partitioned; Error without brokers or client, or when a port cannot
 * be listened on.
 */
export async function startMessagingService(
  settings: MessagingSettings,
): Promise<MessagingService> {
  const names = settings.names ?? messagingNames();
  const logger = settings.logger ?? silentLogger;
  const host = settings.host ?? "127.0.0.1";
  if (!settings.client && !settings.brokers?.length) {
    throw new Error(
      'the messaging service needs "brokers" (e.g. ["127.0.0.1:19092"]) or a "client"',
    );
  }
  const client =
    settings.client ??
    kafkajsClient({ brokers: settings.brokers!, clientId: "messaging-service", logger });

  const admin = client.admin();
  await admin.connect();
  try {
    await admin.createTopics(
      streamsOf(names).map((topic) => ({
        topic,
        partitions: settings.partitions ?? 4,
        compacted: false,
      })),
    );
  } finally {
    await admin.disconnect();
  }

  let report: (error: Error) => void = () => {};
  const failure = new Promise<Error>((resolve) => {
    report = resolve;
  });
  const processor = (graph: GroupGraph) =>
    new Processor(graph, { client, guarantee: "exactly-once", logger }).on(
      "processor.failed",
      (error) => report(error),
    );

  // Closed in reverse start order: the front door first, the state last.
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      await close().catch((error: unknown) => logger.error("closing failed", { error }));
    }
  };
  const started = <T extends { close(): Promise<void> }>(component: T): T => {
    closers.push(() => component.close());
    return component;
  };

  let api: ChatApi;
  let queryUrl: string;
  try {
    const emitters = {
      sent: started(new Emitter({ client, topic: names.sent, codec: messageCodec, logger })),
      blockUser: started(
        new Emitter({ client, topic: names.blockUser, codec: blockCommandCodec, logger }),
      ),
      translateWord: started(
        new Emitter({ client, topic: names.translateWord, codec: stringCodec, logger }),
      ),
    };

    const tableOwners = [blocker(names), translator(names)].map((g) => started(processor(g)));
    await Promise.all(tableOwners.map((p) => p.start()));
    const blocked = started(
      new View({ client, table: tableTopic(names.blocker), codec: blockStateCodec, logger }),
    );
    const translations = started(
      new View({ client, table: tableTopic(names.translator), codec: stringCodec, logger }),
    );
    blocked.on("view.failed", (error) => report(error));
    translations.on("view.failed", (error) => report(error));
    await Promise.all([blocked.start(), translations.start()]);

    // The filter's lookups read through a view that recovers when the filter starts:
    // translations in the table by then are seen by its very first message.
    const seeds = Object.entries(settings.translations ?? {});
    await Promise.all(seeds.map(([word, text]) => emitters.translateWord.emit(word, text)));
    for (const [word, text] of seeds) {
      await translations.waitForKey(word, (value) => value === text, {
        timeoutMs: SEED_TIMEOUT_MS,
      });
    }

    const groups = [
      filter(names),
      collector(names, settings.inboxSize ?? DEFAULT_INBOX_SIZE),
      detector(names, settings.spamRule ?? DEFAULT_SPAM_RULE),
    ].map((graph) => started(processor(graph)));
    await Promise.all(groups.map((p) => p.start()));
    const inbox = started(
      new View({ client, table: tableTopic(names.collector), codec: inboxCodec, logger }),
    );
    inbox.on("view.failed", (error) => report(error));
    await inbox.start();

    const query = started(
      await serveViews({
        views: { inbox, blocked, translations },
        port: settings.queryPort ?? 0,
        host,
        logger,
      }),
    );
    queryUrl = query.url;
    api = started(await serveChat({ emitters, port: settings.port ?? 0, host, logger }));
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
    apiUrl: api.url,
    queryUrl,
    names,
    failure,
    close,
    [Symbol.asyncDispose]: close,
  };
}
