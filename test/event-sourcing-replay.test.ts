import { jsonCodec } from "@toka/codec";
import {
  AliasedView,
  fromTime,
  history,
  Replay,
  rebuildProjection,
  snapshotCodec,
  startAggregate,
  startProjection,
  stateAt,
  TableAliases,
} from "@toka/event-sourcing";
import { Emitter, type Processor, silentLogger } from "@toka/processor";
import fc from "fast-check";
import { describe, expect, onTestFinished, test } from "vitest";
import {
  accounts,
  Balance,
  commandCodec,
  commandSequence,
  State,
  waitForConsumed,
} from "./event-sourcing-fixture.js";
import { adminClient, brokers, readTable, uniqueName } from "./helpers.js";

const options = () => ({ brokers: brokers(), logger: silentLogger });

async function run<P extends Processor>(start: Promise<P>): Promise<P> {
  const processor = await start;
  onTestFinished(() => processor.close());
  return processor;
}

/** Starts the aggregate and its projection under a unique name and sends `commands`. */
async function bankWith(commands: ReturnType<typeof commandSequence>, partitions = 4) {
  const { aggregate, balances } = accounts(uniqueName("acct"));
  await run(startAggregate(aggregate, { ...options(), partitions, sessionTimeoutMs: 6000 }));
  await run(startProjection(balances, { ...options(), sessionTimeoutMs: 6000 }));
  const emitter = new Emitter({
    ...options(),
    topic: aggregate.commandsTopic,
    codec: commandCodec,
  });
  onTestFinished(() => emitter.close());
  await Promise.all(
    commands.map(([key, command], i) => emitter.emit(key, command, { id: `cmd-${i}` })),
  );
  await waitForConsumed(aggregate.name, aggregate.commandsTopic);
  await waitForConsumed(balances.name, aggregate.eventsTopic, { transactional: true });
  return { aggregate, balances };
}

async function decodedTable<T>(topic: string, decode: (bytes: Uint8Array) => T) {
  const table = await readTable(topic);
  return new Map([...table].map(([key, { value }]) => [key, decode(value)]));
}

describe("event sourcing on a real broker", () => {
  test("the event log keeps events forever; a replay equals the live tables; state at a time", async () => {
    const commands = commandSequence(7, 30, 600);
    const { aggregate, balances } = await bankWith(commands);

    const admin = await adminClient();
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: aggregate.eventsTopic, configNames: ["retention.ms"] }],
    });
    expect(configs.resources[0]?.configEntries[0]?.configValue).toBe("-1");

    const balanceCodec = jsonCodec(Balance);
    const live = await decodedTable(balances.tableTopic, (b) => balanceCodec.decode(b));
    expect(live.size).toBe(30);
    const replay = new Replay(balances, options());
    const result = await replay.run();
    expect(result.group).toBe(`${balances.name}-replay-1`);
    expect(await decodedTable(result.table, (b) => balanceCodec.decode(b))).toEqual(live);

    const snapshots = snapshotCodec(jsonCodec(State));
    const liveState = await decodedTable(aggregate.tableTopic, (b) => snapshots.decode(b));
    const stateReplay = await new Replay(aggregate, options()).run();
    expect(await decodedTable(stateReplay.table, (b) => snapshots.decode(b))).toEqual(liveState);
    for (const [key, snapshot] of liveState) {
      expect(snapshot.state.balance).toBe(live.get(key)?.balance);
    }

    // The state of a key as of a past time, from its events only.
    const events = await history(aggregate.log, "acct-3", options());
    expect(events.map((e) => e.meta.aggregateVersion)).toEqual(events.map((_, i) => i + 1));
    const middle = events[Math.floor(events.length / 2)]!;
    const past = await stateAt(aggregate, "acct-3", middle.meta.timestamp, options());
    expect(past.value?.version).toBeGreaterThanOrEqual(middle.meta.aggregateVersion!);
    const now = await stateAt(aggregate, "acct-3", Date.now(), options());
    expect(now.value).toEqual(liveState.get("acct-3"));

    // A replay from a time after everything holds nothing.
    const empty = await new Replay(balances, {
      ...options(),
      from: fromTime(Date.now() + 60_000),
    }).run();
    expect(empty.events).toBe(0);
  });

  test("property: for random command sequences, a replay's table equals the live one", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 1, max: 8 }),
        async (seed, keys) => {
          const { balances } = await bankWith(commandSequence(seed, keys, 80), 3);
          const balanceCodec = jsonCodec(Balance);
          const result = await new Replay(balances, options()).run();
          expect(await decodedTable(result.table, (b) => balanceCodec.decode(b))).toEqual(
            await decodedTable(balances.tableTopic, (b) => balanceCodec.decode(b)),
          );
        },
      ),
      // Each run starts two groups on the broker: a few runs, no shrinking past a failure.
      { numRuns: 3, endOnFailure: true },
    );
  }, 240_000);

  test("rebuildProjection switches an aliased view to the rebuilt table while the old one serves", async () => {
    const { balances } = await bankWith(commandSequence(11, 10, 100));
    const aliases = new TableAliases({ ...options(), topic: uniqueName("aliases") });
    onTestFinished(() => aliases.close());
    await aliases.start();
    const view = new AliasedView({
      ...options(),
      aliases,
      alias: balances.name,
      defaultTable: balances.tableTopic,
      codec: jsonCodec(Balance),
    });
    onTestFinished(() => view.close());
    await view.start();
    const before = await view.get("acct-1");
    expect(before).toBeDefined();

    const progress: number[] = [];
    const rebuilt = await rebuildProjection(balances, {
      ...options(),
      aliases,
      processor: { sessionTimeoutMs: 6000 },
      onProgress: (p) => progress.push(p.fraction),
    });
    onTestFinished(() => rebuilt.processor.close());
    expect(progress.at(-1)).toBe(1);
    await expect.poll(() => view.table, { timeout: 30_000 }).toBe(rebuilt.table);
    expect(await view.get("acct-1")).toEqual(before);
  });
});
