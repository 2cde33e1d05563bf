import {
  createAggregateTopics,
  type Fold,
  fromOffsets,
  fromTime,
  Replay,
  type ReplayProgress,
} from "@toka/event-sourcing";
import { silentLogger } from "@toka/processor";
import { Tester } from "@toka/testing";
import fc from "fast-check";
import { describe, expect, onTestFinished, test } from "vitest";
import {
  accountAggregate,
  type Command,
  commandCodec,
  summaryProjection,
} from "./account-fixture.js";

async function bank() {
  const tester = new Tester();
  onTestFinished(() => tester.close());
  const account = accountAggregate("account");
  await createAggregateTopics(account, { client: tester.client, partitions: 3 });
  await tester.startProcessor(account.graph, { guarantee: "exactly-once-transactional" });
  const summaries = summaryProjection("summaries", account);
  await tester.startProcessor(summaries.graph, { guarantee: "exactly-once" });
  return { tester, account, summaries };
}

const command = fc.oneof(
  fc.record({ type: fc.constant("open" as const), owner: fc.string({ maxLength: 5 }) }),
  fc.record({ type: fc.constant("deposit" as const), amount: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ type: fc.constant("withdraw" as const), amount: fc.integer({ min: 1, max: 100 }) }),
);
const commands = fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d", "e", "f"), command), {
  maxLength: 60,
});

describe("replay", () => {
  test("property: a replay's table equals the live projection's and aggregate's tables", async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (sequence) => {
        const { tester, account, summaries } = await bank();
        await tester.emitMany(
          account.commandsTopic,
          sequence.map(([key, value]) => ({ key, value })),
          { codec: commandCodec },
        );
        // Once with everything in memory, once spilling to storage and flushing often.
        const settings = [{}, { maxCachedKeys: 1, flushKeys: 2 }];
        for (const fold of [summaries, account] as Fold<unknown, unknown>[]) {
          const live = await tester.table(fold.name, fold.table);
          for (const options of settings) {
            const replay = new Replay(fold, {
              client: tester.client,
              logger: silentLogger,
              ...options,
            });
            const result = await replay.run();
            expect(await tester.table(result.group, fold.table)).toEqual(live);
            expect(result.keys).toBe(live.size);
          }
        }
        await tester.close();
      }),
      { numRuns: 25 },
    );
  });

  test("names new groups <name>-replay-<n>, reports progress, and a processor continues it", async () => {
    const { tester, account, summaries } = await bank();
    const send = (key: string, value: Command) =>
      tester.emit(account.commandsTopic, key, value, { codec: commandCodec });
    await send("a", { type: "open", owner: "A" });
    await send("a", { type: "deposit", amount: 5 });
    await send("b", { type: "open", owner: "B" });

    const first = new Replay(summaries, { client: tester.client, logger: silentLogger });
    const progress: ReplayProgress[] = [];
    first.on("replay.progress", (p) => progress.push(p));
    const result = await first.run();
    expect(result.group).toBe("summaries-replay-1");
    expect(result.table).toBe("summaries-replay-1-table");
    expect(result.events).toBe(3);
    // Counted in offsets: the transactional aggregate's commit markers take offsets too.
    const last = progress.at(-1)!;
    expect(last).toMatchObject({ fraction: 1, etaMs: 0 });
    expect(last.done).toBe(last.total);
    expect(last.total).toBeGreaterThanOrEqual(3);
    const second = await new Replay(summaries, {
      client: tester.client,
      logger: silentLogger,
    }).run();
    expect(second.group).toBe("summaries-replay-2");

    // The replay's group continues with the events written since, exactly once.
    await tester.startProcessor(summaries.graphFor(result.group), { guarantee: "exactly-once" });
    await send("a", { type: "deposit", amount: 7 });
    await send("b", { type: "deposit", amount: 1 });
    expect(await tester.table(result.group, summaries.table)).toEqual(
      await tester.table(summaries.name, summaries.table),
    );
    expect((await tester.tableValue(result.group, "a", summaries.table))?.balance).toBe(12);
  });

  test("a processor continuing a replay whose offset commit was lost applies nothing twice", async () => {
    const { tester, account, summaries } = await bank();
    const send = (key: string, value: Command) =>
      tester.emit(account.commandsTopic, key, value, { codec: commandCodec });
    await send("a", { type: "open", owner: "A" });
    await send("a", { type: "deposit", amount: 5 });
    await send("b", { type: "open", owner: "B" });
    const result = await new Replay(summaries, {
      client: tester.client,
      logger: silentLogger,
    }).run();
    // As if the replay's final commit never happened: the group starts at the beginning.
    for (const { partition } of result.ranges) {
      tester.setCommittedOffset(result.group, account.eventsTopic, partition, 0);
    }
    await tester.startProcessor(summaries.graphFor(result.group), { guarantee: "exactly-once" });
    await send("a", { type: "deposit", amount: 1 });
    expect(await tester.table(result.group, summaries.table)).toEqual(
      await tester.table(summaries.name, summaries.table),
    );
    expect(await tester.tableValue(result.group, "a", summaries.table)).toMatchObject({
      balance: 6,
      transactions: 3,
    });
  });

  test("starts at given offsets or at a time", async () => {
    const { tester, account, summaries } = await bank();
    await tester.emit(
      account.commandsTopic,
      "a",
      { type: "open", owner: "A" },
      { codec: commandCodec },
    );
    tester.advanceTime(60_000);
    const later = tester.clock.now();
    await tester.emit(
      account.commandsTopic,
      "a",
      { type: "deposit", amount: 5 },
      { codec: commandCodec },
    );
    await tester.emit(
      account.commandsTopic,
      "a",
      { type: "deposit", amount: 6 },
      { codec: commandCodec },
    );

    const lastEvent = tester.messages(account.eventsTopic).at(-1)!;
    const byTime = await new Replay(summaries, {
      client: tester.client,
      logger: silentLogger,
      from: fromTime(later),
    }).run();
    expect(await tester.tableValue(byTime.group, "a", summaries.table)).toMatchObject({
      balance: 11,
      transactions: 2,
    });
    const byOffset = await new Replay(summaries, {
      client: tester.client,
      logger: silentLogger,
      from: fromOffsets({ [lastEvent.partition]: lastEvent.offset }),
    }).run();
    expect(await tester.tableValue(byOffset.group, "a", summaries.table)).toMatchObject({
      balance: 6,
      transactions: 1,
    });
  });

  test("a table that exists with records is refused", async () => {
    const { tester, account, summaries } = await bank();
    await tester.emit(
      account.commandsTopic,
      "a",
      { type: "open", owner: "A" },
      { codec: commandCodec },
    );
    await expect(
      new Replay(summaries, {
        client: tester.client,
        logger: silentLogger,
        group: "account",
      }).run(),
    ).rejects.toMatchObject({ code: "TOKA_INVALID_STATE" });
  });
});
