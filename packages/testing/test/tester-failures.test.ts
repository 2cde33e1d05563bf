import { jsonCodec, stringCodec } from "@toka/codec";
import {
  defineGroup,
  ErrorPolicy,
  isTokaError,
  loop,
  persist,
  type TokaError,
  TokaErrorCode,
} from "@toka/processor";
import { describe, expect, test } from "vitest";
import { tester } from "./helpers.js";

/** Adds amounts per key; the amount 13 is unlucky: its callback throws. */
function adder(hang?: () => Promise<void>) {
  return defineGroup("adder", {
    persist: persist(jsonCodec<number>()),
    inputs: ({ input }) => [
      input("amounts", jsonCodec<number>(), async (ctx, amount) => {
        if (amount === 13) throw new Error("unlucky amount");
        if (amount === 666 && hang) await hang();
        ctx.setValue((ctx.value() ?? 0) + amount);
      }),
    ],
  });
}

const codec = jsonCodec<number>();

async function rejection(promise: Promise<unknown>): Promise<TokaError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isTokaError(error)) throw new Error(`expected a TokaError, got ${String(error)}`);
  return error;
}

describe("error policies on the tester", () => {
  test("fail: the processor stops and idle() rejects with the callback's error and coordinates", async () => {
    const t = tester();
    t.createTopic("amounts", 2);
    const graph = adder();
    const processor = await t.startProcessor(graph, { errorPolicy: ErrorPolicy.Fail });
    await t.emit("amounts", "alice", 1, { codec });
    const error = await rejection(t.emit("amounts", "alice", 13, { codec }));
    expect(error).toMatchObject({
      code: TokaErrorCode.CallbackFailed,
      group: "adder",
      topic: "amounts",
      partition: t.partitionOf("amounts", "alice"),
      offset: "1",
      key: "alice",
    });
    expect(error.message).toMatch(/unlucky amount/);
    expect(processor.status).toBe("failed");
    // Reported once; the tester stays usable and the table kept what came before.
    await t.idle();
    expect(await t.tableValue(graph, "alice")).toBe(1);
  });

  test("skip: the message is counted and skipped, the partition goes on", async () => {
    const t = tester();
    t.createTopic("amounts");
    const graph = adder();
    const processor = await t.startProcessor(graph, { errorPolicy: ErrorPolicy.Skip });
    const skipped: TokaError[] = [];
    processor.on("message.skipped", (e) => skipped.push(e));
    await t.emitMany(
      "amounts",
      [1, 13, 2].map((value) => ({ key: "alice", value })),
      { codec },
    );
    expect(await t.tableValue(graph, "alice")).toBe(3);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ code: TokaErrorCode.CallbackFailed, offset: "1" });
    expect(t.messages("adder-dlq")).toEqual([]);
  });

  test("dead-letter: the message goes to <group>-dlq with its key, value, headers and the error", async () => {
    const t = tester();
    t.createTopic("amounts");
    const graph = adder();
    await t.startProcessor(graph); // dead-letter is the default policy
    await t.emit("amounts", "alice", 1, { codec });
    await t.emit("amounts", "alice", 13, { codec, headers: { trace: "t-1" } });
    await t.emit("amounts", "alice", 2, { codec });
    expect(await t.tableValue(graph, "alice")).toBe(3);
    const [letter, ...rest] = t.messages("adder-dlq", codec);
    expect(rest).toEqual([]);
    expect(letter).toMatchObject({ key: "alice", value: 13, id: "tester-2" });
    expect(letter?.headers).toMatchObject({
      trace: "t-1",
      "toka-error-code": TokaErrorCode.CallbackFailed,
      "toka-source-topic": "amounts",
      "toka-source-partition": "0",
      "toka-source-offset": "1",
    });
    expect(letter?.headers["toka-error-message"]).toMatch(/unlucky amount/);
  });

  test("dead-letter: a value that does not decode is a dead letter too", async () => {
    const t = tester();
    t.createTopic("amounts");
    const graph = adder();
    await t.startProcessor(graph);
    await t.emit("amounts", "alice", new TextEncoder().encode("{not json"));
    expect(t.messages("adder-dlq", stringCodec)[0]).toMatchObject({
      value: "{not json",
      headers: expect.objectContaining({ "toka-error-code": TokaErrorCode.DecodeFailed }),
    });
  });

  test("a hanging callback fails idle() with a timeout naming the message, never a deadlock", async () => {
    const t = tester({ deliveryTimeoutMs: 50 });
    t.createTopic("amounts", 4);
    const graph = adder(() => new Promise<never>(() => {}));
    const processor = await t.startProcessor(graph);
    await t.emit("amounts", "alice", 1, { codec });
    const error = await rejection(t.emit("amounts", "alice", 666, { codec }));
    expect(error).toMatchObject({
      code: TokaErrorCode.Timeout,
      group: "adder",
      topic: "amounts",
      partition: t.partitionOf("amounts", "alice"),
      offset: "1",
      key: "alice",
    });
    expect(error.message).toMatch(/not handled within 50 ms: a callback hangs/);
    expect(error.message).toMatch(
      /\[group=adder topic=amounts partition=\d offset=1 key="alice"\]/,
    );
    // The processor failed with the same error, and closing does not wait for the hang.
    expect(processor.status).toBe("failed");
    await expect(processor.waitFor("running")).rejects.toBe(error);
    await t.close();
  });

  test("a consumer that throws from its batch handler crashes and idle() rejects", async () => {
    const t = tester();
    t.createTopic("raw");
    const consumer = t.client.consumer({
      groupId: "raw-reader",
      copartitioned: false,
      readCommitted: true,
      fromBeginning: true,
      maxBytesPerPartition: 1 << 20,
      concurrency: 1,
      sessionTimeoutMs: 10_000,
    });
    const crashes: unknown[] = [];
    await consumer.connect();
    await consumer.subscribe(["raw"]);
    await consumer.run({
      onAssignment: () => {},
      onBatch: async () => {
        throw new Error("boom");
      },
      onCrash: (error) => crashes.push(error),
    });
    await expect(t.emit("raw", "k", new Uint8Array([1]))).rejects.toThrow("boom");
    expect(crashes).toHaveLength(1);
    // A crashed consumer left its group: nothing is delivered to it any more.
    await t.emit("raw", "k", new Uint8Array([2]));
    expect(crashes).toHaveLength(1);
  });

  test("a processor that is not idle within idleTimeoutMs is named", async () => {
    const t = tester({ idleTimeoutMs: 30 });
    t.createTopic("amounts");
    // A component that never leaves "starting".
    const stuck = {
      status: "starting",
      group: "stuck",
      start: async () => {},
      close: async () => {},
    };
    await expect(t.start(stuck)).rejects.toThrow(
      /did not become idle within 30 ms: Object of group "stuck" is still starting/,
    );
  });

  test("a start() that still waits when the tester is idle is reported", async () => {
    const t = tester({ idleTimeoutMs: 30 });
    const never = { start: () => new Promise<void>(() => {}), close: async () => {} };
    await expect(t.start(never)).rejects.toThrow(
      /start\(\) of Object did not resolve within 30 ms although the tester is idle/,
    );
    await t.close();
  });

  test("callbacks that feed each other forever hit maxDeliveries", async () => {
    const t = tester({ maxDeliveries: 50 });
    t.createTopic("ping");
    const pingPong = defineGroup("ping-pong", {
      loop: loop(jsonCodec<number>()),
      inputs: ({ input, loop: onLoop }) => [
        input("ping", jsonCodec<number>(), (ctx, n) => ctx.loopback(ctx.key, n)),
        onLoop((ctx, n) => ctx.loopback(ctx.key, n + 1)),
      ],
    });
    await t.startProcessor(pingPong);
    await expect(t.emit("ping", "k", 0, { codec })).rejects.toMatchObject({
      code: TokaErrorCode.Timeout,
      message: expect.stringMatching(/delivered 50 batches without becoming idle/),
    });
  });
});

// Regression: a failed offset commit (the coordinator moving when a broker died) was only
// logged, so with no more input the group's committed offsets stayed behind for good.
test("a failed offset commit is retried until it succeeds, with no more input arriving", async () => {
  const t = tester();
  t.createTopic("amounts", 1);
  await t.startProcessor(adder());
  t.failNextCommit({ group: "adder" });
  await t.emit("amounts", "alice", 1, { codec });
  expect(t.committedOffset("adder", "amounts", 0)).toBeUndefined();

  const deadline = Date.now() + 4_000; // the first retry comes after 1 s
  while (t.committedOffset("adder", "amounts", 0) === undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(t.committedOffset("adder", "amounts", 0)).toBe("1");
});
