import {
  AggregateClient,
  AliasedView,
  type ReplayProgress,
  rebuildProjection,
  startAggregate,
  startProjection,
  TableAliases,
} from "@toka/event-sourcing";
import { type Logger, type Processor, serveViews, silentLogger } from "@toka/processor";
import { type KafkaClient, kafkajsClient } from "@toka/processor/kafka";
import type { StorageFactory } from "@toka/state-store";
import { accountAggregate } from "./account.js";
import { balanceCodec, balancesProjection } from "./balances.js";
import { type CommandApi, serveCommands } from "./command-api.js";

/** Settings of one bank service. */
export interface BankServiceSettings {
  /** Bootstrap brokers. Required unless `client` is given. */
  readonly brokers?: readonly string[];
  readonly client?: KafkaClient;
  /** The aggregate's name and topic prefix. Default `account`. */
  readonly name?: string;
  /** Partitions of the topics when they are created. Default 4. */
  readonly partitions?: number;
  /** The processors' local storage. Default: memory (rebuilt from the tables at start). */
  readonly storage?: StorageFactory;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Port of the command API. Default 0 (a free one). */
  readonly port?: number;
  /** Port of the query service. Default 0. */
  readonly queryPort?: number;
  /** Consumer-group session timeout of the processors, in ms. Default 10 000. */
  readonly sessionTimeoutMs?: number;
  /** Default: silent. */
  readonly logger?: Logger;
}

/** A running bank service. */
export interface BankService {
  /** `POST <commandsUrl>/accounts/<id>/open|deposit|withdraw`, `/admin/rebuild`. */
  readonly commandsUrl: string;
  /** `GET <queryUrl>/balances/<id>`. */
  readonly queryUrl: string;
  /** The group running the balances now (changes with a rebuild). */
  readonly balancesGroup: string;
  /** Resolves with the first failure of a processor. */
  readonly failure: Promise<Error>;
  /** Rebuilds the balances into a new table and switches to it; resolves when switched. */
  rebuild(onProgress?: (p: ReplayProgress) => void): Promise<{ group: string; table: string }>;
  close(): Promise<void>;
}

/**
 * Starts the bank: the account aggregate (protobuf commands → events → state,
 * exactly-once with transactions), the balance projection, a query service over an
 * aliased view of the balances, and the command API.
 *
 * The balances group to run is the one the alias `<name>-balances` names: after a
 * rebuild, a restarted service runs the rebuilt group.
 */
export async function startBankService(settings: BankServiceSettings): Promise<BankService> {
  const logger = settings.logger ?? silentLogger;
  const host = settings.host ?? "127.0.0.1";
  if (!settings.client && !settings.brokers?.length) {
    throw new Error('the bank needs "brokers" (e.g. ["127.0.0.1:19092"]) or a "client"');
  }
  const client =
    settings.client ?? kafkajsClient({ brokers: settings.brokers!, clientId: "bank", logger });
  const connection = { client, logger, ...(settings.brokers ? { brokers: settings.brokers } : {}) };
  const storage = {
    ...(settings.storage ? { storage: settings.storage } : {}),
    ...(settings.sessionTimeoutMs ? { sessionTimeoutMs: settings.sessionTimeoutMs } : {}),
  };
  const account = accountAggregate(settings.name);
  const balances = balancesProjection(account);

  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  };
  let failed!: (error: Error) => void;
  const failure = new Promise<Error>((resolve) => {
    failed = resolve;
  });
  const watch = (processor: Processor) => processor.on("processor.failed", failed);
  try {
    const aggregate = await startAggregate(account, {
      ...connection,
      ...storage,
      partitions: settings.partitions ?? 4,
    });
    watch(aggregate);
    closers.push(() => aggregate.close());
    const aliases = new TableAliases(connection);
    closers.push(() => aliases.close());
    await aliases.start();
    const aliased = await aliases.get(balances.name);
    let balancesGroup = aliased ? aliased.replace(/-table$/, "") : balances.name;
    let projection = await startProjection(balances, {
      ...connection,
      ...storage,
      group: balancesGroup,
    });
    watch(projection);
    closers.push(() => projection.close());
    const view = new AliasedView({
      ...connection,
      aliases,
      alias: balances.name,
      defaultTable: balances.tableTopic,
      codec: balanceCodec,
    });
    closers.push(() => view.close());
    await view.start();
    const query = await serveViews({
      views: { balances: view },
      host,
      port: settings.queryPort ?? 0,
      logger,
    });
    closers.push(() => query.close());
    const commands = new AggregateClient(account, connection);
    closers.push(() => commands.close());

    let rebuilding: Promise<{ group: string; table: string }> | undefined;
    let status: Record<string, unknown> = { status: "idle" };
    const rebuild = (onProgress?: (p: ReplayProgress) => void) => {
      rebuilding ??= (async () => {
        status = { status: "replaying" };
        const rebuilt = await rebuildProjection(balances, {
          ...connection,
          aliases,
          processor: storage,
          onProgress: (progress) => {
            status = { status: "replaying", progress };
            onProgress?.(progress);
          },
        });
        // The alias names the new table: the view switched; the old group can stop.
        const previous = projection;
        projection = rebuilt.processor;
        balancesGroup = rebuilt.replay.group;
        watch(projection);
        closers.push(() => rebuilt.processor.close());
        await previous.close();
        status = {
          status: "switched",
          group: balancesGroup,
          table: rebuilt.table,
          replay: rebuilt.replay,
        };
        return { group: balancesGroup, table: rebuilt.table };
      })().finally(() => {
        rebuilding = undefined;
      });
      return rebuilding;
    };
    const api: CommandApi = await serveCommands({
      client: commands,
      host,
      port: settings.port ?? 0,
      admin: {
        startRebuild: async () => {
          rebuild().catch((error: unknown) => {
            status = { status: "failed", error: (error as Error).message };
          });
          return { status: "started" };
        },
        rebuildStatus: () => status,
      },
    });
    closers.push(() => api.close());
    return {
      commandsUrl: api.url,
      queryUrl: query.url,
      get balancesGroup() {
        return balancesGroup;
      },
      failure,
      rebuild,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
