import {
  createAggregateTopics,
  EventHeader,
  RejectionCode,
  rejectionCodec,
} from "@toka/event-sourcing";
import { Tester } from "@toka/testing";
import { describe, expect, onTestFinished, test } from "vitest";
import {
  accountAggregate,
  commandCodec,
  eventCodec,
  summaryProjection,
} from "./account-fixture.js";

async function setUp() {
  const tester = new Tester();
  onTestFinished(() => tester.close());
  const account = accountAggregate("account");
  await createAggregateTopics(account, { client: tester.client, partitions: 2 });
  await tester.startProcessor(account.graph, { guarantee: "exactly-once-transactional" });
  const send = (key: string, command: Parameters<typeof commandCodec.encode>[0], options = {}) =>
    tester.emit(account.commandsTopic, key, command, { codec: commandCodec, ...options });
  return { tester, account, send };
}

describe("aggregate", () => {
  test("decided events go to the log with their headers; the state and version to the table", async () => {
    const { tester, account, send } = await setUp();
    await send("alice", { type: "open", owner: "Alice" }, { id: "c1" });
    await send("alice", { type: "deposit", amount: 10 }, { id: "c2" });

    const events = tester.messages(account.eventsTopic, eventCodec);
    expect(events.map((e) => e.value)).toEqual([
      { type: "opened", owner: "Alice" },
      { type: "deposited", amount: 10 },
    ]);
    expect(events.map((e) => e.id)).toEqual(["c1:1", "c2:1"]);
    expect(events[1]!.headers).toMatchObject({
      [EventHeader.Type]: "deposited",
      [EventHeader.AggregateVersion]: "2",
      [EventHeader.SchemaVersion]: "1",
      [EventHeader.CommandId]: "c2",
      [EventHeader.CommandEvents]: "1",
    });
    expect(await tester.tableValue(account.graph, "alice")).toEqual({
      version: 2,
      state: { open: true, owner: "Alice", balance: 10 },
    });
  });

  test("a rejected command writes its reason to the rejections topic and changes nothing", async () => {
    const { tester, account, send } = await setUp();
    await send("bob", { type: "open", owner: "Bob" }, { id: "c1" });
    await send("bob", { type: "withdraw", amount: 5 }, { id: "c2" });

    const rejections = tester.messages(account.rejectionsTopic, rejectionCodec);
    expect(rejections.map((r) => r.value)).toEqual([
      {
        commandId: "c2",
        reason: "insufficient funds: balance 0, withdrawal 5",
        code: "insufficient-funds",
        version: 1,
      },
    ]);
    expect(rejections[0]!.headers[EventHeader.CommandId]).toBe("c2");
    expect(tester.messages(account.eventsTopic)).toHaveLength(1);
    expect((await tester.tableValue(account.graph, "bob"))?.version).toBe(1);
  });

  test("a stale expected version is rejected as a version conflict; a current one passes", async () => {
    const { tester, account, send } = await setUp();
    await send("carol", { type: "open", owner: "Carol" });
    const expect1 = { headers: { [EventHeader.ExpectedVersion]: "1" } };
    await send("carol", { type: "deposit", amount: 3 }, { id: "first", ...expect1 });
    await send("carol", { type: "deposit", amount: 4 }, { id: "second", ...expect1 });
    await send(
      "carol",
      { type: "deposit", amount: 5 },
      { id: "bad", headers: { [EventHeader.ExpectedVersion]: "x" } },
    );

    const rejections = tester.messages(account.rejectionsTopic, rejectionCodec).map((r) => r.value);
    expect(rejections).toEqual([
      {
        commandId: "second",
        reason: "expected version 1, but the aggregate is at version 2",
        code: RejectionCode.VersionConflict,
        version: 2,
        expectedVersion: 1,
      },
      {
        commandId: "bad",
        reason: 'the expected version "x" is not a non-negative integer',
        code: RejectionCode.VersionConflict,
        version: 2,
      },
    ]);
    expect((await tester.tableValue(account.graph, "carol"))?.state.balance).toBe(3);
  });

  test("a command retried with the same id is applied once (exactly-once)", async () => {
    const { tester, account, send } = await setUp();
    await send("dave", { type: "open", owner: "Dave" }, { id: "open" });
    await send("dave", { type: "deposit", amount: 7 }, { id: "dep" });
    await send("dave", { type: "deposit", amount: 7 }, { id: "dep" });
    expect((await tester.tableValue(account.graph, "dave"))?.state.balance).toBe(7);
    expect(tester.messages(account.eventsTopic)).toHaveLength(2);
  });

  test("a projection folds the event log into its read model", async () => {
    const { tester, account, send } = await setUp();
    const summaries = summaryProjection("summaries", account);
    await tester.startProcessor(summaries.graph, { guarantee: "exactly-once" });
    await send("erin", { type: "open", owner: "Erin" });
    await send("erin", { type: "deposit", amount: 9 });
    await send("erin", { type: "withdraw", amount: 4 });
    await send("erin", { type: "withdraw", amount: 40 });
    const value = await tester.tableValue(summaries.graph, "erin");
    expect(value).toMatchObject({ balance: 5, transactions: 3 });
  });
});
