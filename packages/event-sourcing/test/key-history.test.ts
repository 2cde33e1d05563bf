import {
  createAggregateTopics,
  EventHeader,
  history,
  keyRecords,
  stateAt,
} from "@toka/event-sourcing";
import { silentLogger } from "@toka/processor";
import { Tester } from "@toka/testing";
import { expect, onTestFinished, test } from "vitest";
import {
  accountAggregate,
  commandCodec,
  eventCodec,
  summaryProjection,
} from "./account-fixture.js";

async function bank() {
  const tester = new Tester();
  onTestFinished(() => tester.close());
  const account = accountAggregate("account");
  await createAggregateTopics(account, { client: tester.client, partitions: 4 });
  await tester.startProcessor(account.graph, { guarantee: "exactly-once-transactional" });
  const options = { client: tester.client, logger: silentLogger };
  return { tester, account, options };
}

test("history lists a key's events with their metadata, in order", async () => {
  const { tester, account, options } = await bank();
  await tester.emit(
    account.commandsTopic,
    "a",
    { type: "open", owner: "A" },
    { codec: commandCodec, id: "c1" },
  );
  await tester.emit(
    account.commandsTopic,
    "b",
    { type: "open", owner: "B" },
    { codec: commandCodec },
  );
  await tester.emit(
    account.commandsTopic,
    "a",
    { type: "deposit", amount: 3 },
    { codec: commandCodec, id: "c2" },
  );

  const entries = await history(account.log, "a", options);
  expect(entries.map((e) => e.event)).toEqual([
    { type: "opened", owner: "A" },
    { type: "deposited", amount: 3 },
  ]);
  expect(entries.map((e) => [e.meta.type, e.meta.aggregateVersion, e.meta.commandId])).toEqual([
    ["opened", 1, "c1"],
    ["deposited", 2, "c2"],
  ]);
  expect(await history(account.log, "nobody", options)).toEqual([]);
});

test("stateAt folds a key's events up to a time; repeated events count once", async () => {
  const { tester, account, options } = await bank();
  const send = (amount: number) =>
    tester.emit(account.commandsTopic, "a", { type: "deposit", amount }, { codec: commandCodec });
  await tester.emit(
    account.commandsTopic,
    "a",
    { type: "open", owner: "A" },
    { codec: commandCodec },
  );
  await send(1);
  const t1 = tester.clock.now();
  tester.advanceTime(1_000);
  await send(10);
  const t2 = tester.clock.now();
  tester.advanceTime(1_000);
  await send(100);
  // An event repeated in the log (as a crash can leave it): same toka-id.
  const last = tester.messages(account.eventsTopic).at(-1)!;
  await tester.emit(
    account.eventsTopic,
    "a",
    { type: "deposited", amount: 100 },
    {
      codec: eventCodec,
      id: last.id!,
      headers: last.headers,
    },
  );

  expect((await stateAt(account, "a", t1, options)).value).toEqual({
    version: 2,
    state: { open: true, owner: "A", balance: 1 },
  });
  expect((await stateAt(account, "a", new Date(t2), options)).value?.state.balance).toBe(11);
  const now = await stateAt(account, "a", tester.clock.now(), options);
  expect(now).toMatchObject({ events: 4, value: { version: 4, state: { balance: 111 } } });
  const summaries = summaryProjection("summaries", account);
  expect((await stateAt(summaries, "a", t1, options)).value).toMatchObject({
    balance: 1,
    transactions: 2,
  });
  expect(await stateAt(account, "a", 0, options)).toEqual({
    value: undefined,
    events: 0,
    offset: undefined,
    timestamp: undefined,
  });
  expect(
    (await keyRecords(account.eventsTopic, "a", options)).at(-1)?.headers[EventHeader.Type],
  ).toBe("deposited");
});

test("a missing topic is TOKA_TOPIC_MISSING", async () => {
  const { options } = await bank();
  await expect(keyRecords("nope", "a", options)).rejects.toMatchObject({
    code: "TOKA_TOPIC_MISSING",
  });
});
