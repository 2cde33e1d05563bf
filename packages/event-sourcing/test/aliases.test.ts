import { jsonCodec } from "@toka/codec";
import {
  AggregateClient,
  AliasedView,
  createAggregateTopics,
  rebuildProjection,
  TableAliases,
} from "@toka/event-sourcing";
import { silentLogger } from "@toka/processor";
import { Tester } from "@toka/testing";
import { expect, onTestFinished, test } from "vitest";
import { accountAggregate, Summary, summaryProjection } from "./account-fixture.js";

async function bank() {
  const tester = new Tester();
  onTestFinished(() => tester.close());
  const account = accountAggregate("account");
  await createAggregateTopics(account, { client: tester.client, partitions: 2 });
  await tester.startProcessor(account.graph, { guarantee: "exactly-once-transactional" });
  const summaries = summaryProjection("summaries", account);
  await tester.startProcessor(summaries.graph, { guarantee: "exactly-once" });
  const options = { client: tester.client, logger: silentLogger };
  const client = new AggregateClient(account, { ...options, timeoutMs: 5_000 });
  onTestFinished(() => client.close());
  return { tester, account, summaries, options, client };
}

test("execute returns the events of an accepted command and the reason of a rejected one", async () => {
  const { client } = await bank();
  const opened = await client.execute("a", { type: "open", owner: "A" }, { id: "open-a" });
  expect(opened).toMatchObject({ status: "accepted", commandId: "open-a", version: 1 });
  expect(opened.status === "accepted" && opened.events.map((e) => e.event)).toEqual([
    { type: "opened", owner: "A" },
  ]);
  const rejected = await client.execute("a", { type: "withdraw", amount: 5 });
  expect(rejected).toMatchObject({
    status: "rejected",
    rejection: {
      code: "insufficient-funds",
      reason: "insufficient funds: balance 0, withdrawal 5",
    },
  });
  const stale = await client.execute("a", { type: "deposit", amount: 5 }, { expectedVersion: 0 });
  expect(stale).toMatchObject({ status: "rejected", rejection: { code: "version-conflict" } });
  expect(
    await client.execute("a", { type: "deposit", amount: 5 }, { expectedVersion: 1 }),
  ).toMatchObject({
    status: "accepted",
    version: 2,
  });
});

test("an aliased view serves the old table until the rebuilt one is caught up, then switches", async () => {
  const { tester, summaries, options, client } = await bank();
  await client.execute("a", { type: "open", owner: "A" });
  await client.execute("a", { type: "deposit", amount: 4 });

  const aliases = new TableAliases(options);
  onTestFinished(() => aliases.close());
  await aliases.start();
  const view = new AliasedView({
    ...options,
    aliases,
    alias: summaries.name,
    defaultTable: summaries.tableTopic,
    codec: jsonCodec(Summary),
  });
  onTestFinished(() => view.close());
  await view.start();
  expect(view.table).toBe("summaries-table");
  expect(await view.get("a")).toMatchObject({ balance: 4 });

  const switched = new Promise((resolve) => view.on("view.switched", resolve));
  const rebuilt = await rebuildProjection(summaries, { ...options, aliases });
  onTestFinished(() => rebuilt.processor.close());
  expect(await aliases.get("summaries")).toBe("summaries-replay-1-table");
  expect(await switched).toEqual({
    alias: "summaries",
    table: "summaries-replay-1-table",
    previous: "summaries-table",
  });
  expect(view.table).toBe("summaries-replay-1-table");
  expect(await view.get("a")).toMatchObject({ balance: 4 });

  // The rebuilt group follows the log.
  await client.execute("a", { type: "deposit", amount: 1 });
  await tester.idle();
  expect(await tester.tableValue(rebuilt.replay.group, "a", jsonCodec(Summary))).toMatchObject({
    balance: 5,
  });
  // The alias was unset before (the view served its default table): no previous one.
  expect((await aliases.list()).get("summaries")).toEqual({
    table: "summaries-replay-1-table",
    switchedAt: expect.any(Number),
  });
});
