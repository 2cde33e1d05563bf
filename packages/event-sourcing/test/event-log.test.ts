import { jsonCodec } from "@toka/codec";
import {
  defineProjection,
  EventHeader,
  eventLog,
  Replay,
  snapshotCodec,
} from "@toka/event-sourcing";
import { silentLogger } from "@toka/processor";
import { Tester } from "@toka/testing";
import { expect, onTestFinished, test } from "vitest";
import { z } from "zod";

// Version 1 wrote `{ cents }`, version 2 writes `{ amount: { value, currency } }`.
const V1 = z.object({ cents: z.number().int() });
const V2 = z.object({ amount: z.object({ value: z.number().int(), currency: z.string() }) });
type V2 = z.infer<typeof V2>;
const v1 = jsonCodec(V1);
const v2 = jsonCodec(V2);

const log = eventLog("payments", v2, {
  schemaVersion: 2,
  upcast: (bytes, version) =>
    version === 1
      ? { amount: { value: v1.decode(bytes).cents, currency: "EUR" } }
      : v2.decode(bytes),
  eventType: () => "paid",
});
const totals = defineProjection({
  name: "totals",
  source: log,
  state: jsonCodec(z.number().int()),
  project: (current: number | undefined, event: V2) => (current ?? 0) + event.amount.value,
});

test("events of an old schema version reach projections and replays upcast", async () => {
  const tester = new Tester();
  onTestFinished(() => tester.close());
  tester.createTopic("payments", 2);
  await tester.startProcessor(totals.graph, { guarantee: "exactly-once" });
  const version = (v: number) => ({ headers: { [EventHeader.SchemaVersion]: String(v) } });
  await tester.emit("payments", "p", { cents: 5 }, { codec: v1, ...version(1) });
  await tester.emit("payments", "p", { cents: 7 }, { codec: v1 }); // no header: version 1
  await tester.emit(
    "payments",
    "p",
    { amount: { value: 10, currency: "EUR" } },
    { codec: v2, ...version(2) },
  );
  expect(await tester.tableValue(totals.graph, "p")).toBe(22);
  const replay = await new Replay(totals, { client: tester.client, logger: silentLogger }).run();
  expect(await tester.tableValue(replay.group, "p", totals.table)).toBe(22);
});

test("an event that does not decode names its coordinates and the way out", () => {
  const plain = eventLog("payments", v2);
  const record = {
    topic: "payments",
    partition: 1,
    offset: "41",
    key: "p",
    timestamp: 0,
    headers: {},
  };
  expect(() => plain.decode(new TextEncoder().encode('{"cents":5}'), record)).toThrow(
    /does not decode with json.*schema version 1, current 1.*raise schemaVersion and give an upcast.*topic=payments partition=1 offset=41 key="p"/,
  );
  expect(() => eventLog("x", v2, { schemaVersion: 0 })).toThrow(
    "schemaVersion must be a positive integer",
  );
});

test("default event types: a type field, a protobuf oneof case, else the message name", () => {
  const type = eventLog("x", jsonCodec(z.unknown())).eventType;
  expect(type({ type: "opened" })).toBe("opened");
  expect(type({ event: { case: "deposited", value: {} } })).toBe("deposited");
  expect(type({ $typeName: "bank.v1.Thing" })).toBe("bank.v1.Thing");
  expect(type(42)).toBe("event");
});

test("snapshots keep the version with the state", () => {
  const codec = snapshotCodec(jsonCodec(z.object({ balance: z.number() })));
  const snapshot = { version: 2 ** 40, state: { balance: 3 } };
  expect(codec.decode(codec.encode(snapshot))).toEqual(snapshot);
  expect(() => codec.encode({ version: -1, state: { balance: 0 } })).toThrow(
    "non-negative safe integer",
  );
  expect(() => codec.decode(new Uint8Array([7]))).toThrow("not an aggregate snapshot");
});

test("an aborted replay stops with TOKA_INVALID_STATE and a partial table", async () => {
  const tester = new Tester();
  onTestFinished(() => tester.close());
  tester.createTopic("payments", 2);
  await tester.emit("payments", "p", { amount: { value: 1, currency: "EUR" } }, { codec: v2 });
  const controller = new AbortController();
  controller.abort();
  const replay = new Replay(totals, { client: tester.client, logger: silentLogger });
  await expect(replay.run({ signal: controller.signal })).rejects.toMatchObject({
    code: "TOKA_INVALID_STATE",
  });
  expect(replay.status).toBe("cancelled");
  await expect(replay.run()).rejects.toThrow("a replay runs once");
});
