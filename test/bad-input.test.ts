import { jsonCodec } from "@toka/codec";
import {
  defineGroup,
  isTokaError,
  Processor,
  persist,
  silentLogger,
  type TokaError,
} from "@toka/processor";
import type { Message } from "kafkajs";
import { expect, onTestFinished, test } from "vitest";
import {
  adminClient,
  awaitLeaders,
  brokers,
  countWritten,
  createTopic,
  headersOf,
  kafkaClient,
  readTable,
  readToEnd,
  uniqueName,
  waitUntil,
} from "./helpers.js";
import { seededRandom as random } from "./seeded-random.js";

/** Header names that are also members of Object.prototype. */
const WEIRD_NAMES = ["constructor", "toString", "hasOwnProperty", "__proto__", "valueOf"];
/** The header listing a message's weird header names, so the callback can check them. */
const NAMES_HEADER = "fuzz-names";
const INPUT_MAX_BYTES = 256 * 1024;
const KEYS = ["", "a", "\uFEFFa", "ключ", "🔑", ...Array.from({ length: 20 }, (_, i) => `k${i}`)];
/** Byte strings that are not UTF-8: a lone continuation, a cut-off sequence, a surrogate, an overlong "/". */
const INVALID = [[0x80], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xff, 0xfe]];

/** Counts the messages of each key; a message of 13 makes the callback throw. */
function countingGroup(name: string, input: string, mismatches: string[]) {
  return defineGroup(name, {
    persist: persist(jsonCodec<number>()),
    inputs: ({ input: edge }) => [
      edge(input, jsonCodec<number>(), (ctx, value) => {
        const expected = ctx.headers[NAMES_HEADER]?.split(",").filter(Boolean) ?? [];
        const weird = Object.keys(ctx.headers).filter((n) => WEIRD_NAMES.includes(n));
        const values = weird.map((n) => ctx.headers[n]);
        if (
          weird.join() !== expected.join() ||
          values.join() !== expected.map((n) => `v-${n}`).join()
        )
          mismatches.push(`offset ${ctx.offset}: ${JSON.stringify(Object.entries(ctx.headers))}`);
        if (value === 13) throw new Error("unlucky 13");
        ctx.setValue((ctx.value() ?? 0) + 1);
      }),
    ],
  });
}

interface Plan {
  readonly messages: Message[];
  /** What the table must hold: messages applied per key. */
  readonly applied: Map<string, number>;
  /** Key bytes (hex, or "null") of the messages that must be dead letters, sorted. */
  readonly letters: string[];
}

/** `count` messages mixing good ones with every kind of bad input, plus values near the limit. */
function plan(seed: number, count: number): Plan {
  const rand = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const messages: Message[] = [];
  const applied = new Map<string, number>();
  const letters: string[] = [];
  const add = (key: Buffer | null, value: Buffer, good: boolean) => {
    // Weird names on a random subset, in a fixed order; defined, so "__proto__" is a name.
    const names = WEIRD_NAMES.filter(() => rand() < 0.3);
    const headers = Object.fromEntries([
      ...names.map((n) => [n, `v-${n}`]),
      [NAMES_HEADER, names.join(",")],
    ]);
    messages.push({ key, value, headers });
    if (good) applied.set(key!.toString(), (applied.get(key!.toString()) ?? 0) + 1);
    else letters.push(key === null ? "null" : key.toString("hex"));
  };
  for (let i = 0; i < count; i++) {
    const roll = rand();
    const key = Buffer.from(pick(KEYS));
    const number = Buffer.from(String(Math.floor(rand() * 12)));
    if (roll < 0.6) add(key, number, true);
    else if (roll < 0.7) add(null, number, false);
    else if (roll < 0.8)
      add(Buffer.from([...pick(INVALID), ...Buffer.from(pick(KEYS))]), number, false);
    else if (roll < 0.9) add(key, Buffer.from(pick(["{not json", "", "[1", "nul"])), false);
    else add(key, Buffer.from("13"), false);
  }
  // Close to the input's limit: a letter of these needs the dead-letter topic's headroom.
  for (let i = 0; i < 3; i++) {
    const size = INPUT_MAX_BYTES - 300 - Math.floor(rand() * 200);
    add(Buffer.from(pick(KEYS)), Buffer.from(`1${" ".repeat(size - 1)}`), true);
    add(Buffer.from(pick(KEYS)), Buffer.alloc(size, "x"), false);
  }
  return { messages, applied, letters: letters.sort() };
}

/** Produces the messages; one near the limit alone, since the limit is per record batch. */
async function produce(topic: string, messages: readonly Message[]) {
  const producer = kafkaClient().producer();
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  let chunk: Message[] = [];
  const flush = async () => {
    if (chunk.length > 0) await producer.send({ topic, acks: -1, messages: chunk });
    chunk = [];
  };
  for (const message of messages) {
    if ((message.value as Buffer).byteLength > 1024) {
      await flush();
      await producer.send({ topic, acks: -1, messages: [message] });
    } else {
      chunk.push(message);
      if (chunk.length === 200) await flush();
    }
  }
  await flush();
}

test("fuzz: every input is applied or dead-lettered exactly once, whatever its key, headers, value or size", async () => {
  const seed = Number(process.env.TOKA_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`bad-input fuzz seed ${seed} (rerun with TOKA_FUZZ_SEED=${seed})`);
  const { messages, applied, letters } = plan(seed, 3000);
  const input = await createTopic("fuzz-in", 3, [
    { name: "max.message.bytes", value: String(INPUT_MAX_BYTES) },
  ]);
  const group = uniqueName("fuzz");
  const mismatches: string[] = [];
  const processor = new Processor(countingGroup(group, input, mismatches), {
    brokers: brokers(),
    logger: silentLogger,
  });
  onTestFinished(() => processor.close());
  const failures: TokaError[] = [];
  processor.on("processor.failed", (e) => failures.push(e));
  const handled = countWritten(
    processor,
    (b) => b.processed + b.failed + b.redelivered + b.duplicates,
  );
  await processor.start();
  const admin = await adminClient();
  onTestFinished(() =>
    admin.deleteTopics({ topics: [`${group}-table`, `${group}-dlq`] }).catch(() => {}),
  );
  await produce(input, messages);
  await waitUntil(
    `${messages.length} inputs handled`,
    () => failures.length > 0 || handled() >= messages.length,
    { timeoutMs: 180_000 },
  );
  expect(failures).toEqual([]);
  expect(handled()).toBe(messages.length);

  const table = new Map<string, number>();
  for (const [key, { value }] of await readTable(`${group}-table`))
    table.set(key, JSON.parse(value.toString()) as number);
  const dead: string[] = [];
  let truncated = 0;
  await readToEnd(`${group}-dlq`, (m) => {
    dead.push(m.key === null ? "null" : m.key.toString("hex"));
    if (headersOf(m)["toka-error-truncated"] !== undefined) truncated += 1;
  });
  // The dead-letter topic takes what the input takes: no letter had to be cut.
  expect(truncated).toBe(0);
  const appliedCount = [...table.values()].reduce((a, b) => a + b, 0);
  expect(appliedCount + dead.length).toBe(messages.length);
  expect(new Map([...table].sort())).toEqual(new Map([...applied].sort()));
  expect(dead.sort()).toEqual(letters);
  expect(mismatches).toEqual([]);
  expect(processor.status).toBe("running");

  const { resources } = await admin.describeConfigs({
    resources: [{ type: 2, name: `${group}-dlq`, configNames: ["max.message.bytes"] }],
    includeSynonyms: false,
  });
  expect(resources[0]?.configEntries[0]?.configValue).toBe(String(INPUT_MAX_BYTES + 16 * 1024));
});

test("dead letters keep weird header names and the original key bytes", async () => {
  const input = await createTopic("weird-in", 1);
  const group = uniqueName("weird");
  const processor = new Processor(countingGroup(group, input, []), {
    brokers: brokers(),
    logger: silentLogger,
  });
  onTestFinished(() => processor.close());
  const deadLettered: TokaError[] = [];
  processor.on("message.dead-lettered", (e) => deadLettered.push(e));
  // The event comes when a letter is made; the letter is in the topic once its batch flushed.
  const written = countWritten(processor, (b) => b.failed);
  await processor.start();
  const admin = await adminClient();
  onTestFinished(() =>
    admin.deleteTopics({ topics: [`${group}-table`, `${group}-dlq`] }).catch(() => {}),
  );
  const headers = Object.fromEntries(WEIRD_NAMES.map((n) => [n, `v-${n}`]));
  await produce(input, [
    { key: Buffer.from([0xff, 0x41]), value: Buffer.from("1"), headers },
    { key: null, value: Buffer.from("1"), headers },
  ]);
  await waitUntil("two dead letters written", () => written() === 2);
  expect(deadLettered.map((e) => e.code)).toEqual(["TOKA_INVALID_KEY", "TOKA_INVALID_KEY"]);
  const dead: { key: Buffer | null; headers: Record<string, string> }[] = [];
  await readToEnd(`${group}-dlq`, (m) => dead.push({ key: m.key, headers: headersOf(m) }));
  expect(dead.map((d) => d.key)).toEqual([Buffer.from([0xff, 0x41]), null]);
  for (const { headers: h } of dead) {
    for (const name of WEIRD_NAMES) expect([name, h[name]]).toEqual([name, `v-${name}`]);
    expect(h["toka-error-code"]).toBe("TOKA_INVALID_KEY");
  }
});

test("fail: an invalid key stops the processor with TOKA_INVALID_KEY naming group, topic, partition, offset, key and cause", async () => {
  const input = await createTopic("invalid-key", 2);
  const group = uniqueName("invalid-key");
  const processor = new Processor(countingGroup(group, input, []), {
    brokers: brokers(),
    errorPolicy: "fail",
    logger: silentLogger,
  });
  onTestFinished(() => processor.close());
  const running = processor.run();
  await processor.waitFor("running");
  const admin = await adminClient();
  onTestFinished(() => admin.deleteTopics({ topics: [`${group}-table`] }).catch(() => {}));
  const producer = kafkaClient().producer();
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  await producer.send({
    topic: input,
    messages: [
      { key: "good", value: "1", partition: 1 },
      { key: Buffer.from([0x61, 0xff]), value: "1", partition: 1 },
    ],
  });
  const error = await running.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isTokaError(error)).toBe(true);
  expect(error).toMatchObject({
    code: "TOKA_INVALID_KEY",
    group,
    topic: input,
    partition: 1,
    offset: "1",
  });
  const message = (error as Error).message;
  expect(message).toContain("the key is not valid UTF-8 (hex 61ff)");
  expect(message).toContain(`producers of "${input}" must set a UTF-8 key`);
  expect(message).toContain(`[group=${group} topic=${input} partition=1 offset=1]`);
  expect((error as Error).cause).toBeInstanceOf(TypeError);
  expect(processor.status).toBe("failed");
});

test("a letter larger than an existing dead-letter topic allows is stored cut, and the partition goes on", async () => {
  const input = await createTopic("cut-in", 1, [{ name: "max.message.bytes", value: "200000" }]);
  const group = uniqueName("cut");
  const admin = await adminClient();
  await admin.createTopics({
    waitForLeaders: false,
    topics: [
      {
        topic: `${group}-dlq`,
        numPartitions: 1,
        configEntries: [{ name: "max.message.bytes", value: "20000" }],
      },
    ],
  });
  await awaitLeaders([`${group}-dlq`]);
  onTestFinished(() =>
    admin.deleteTopics({ topics: [`${group}-table`, `${group}-dlq`] }).catch(() => {}),
  );
  const processor = new Processor(countingGroup(group, input, []), {
    brokers: brokers(),
    logger: silentLogger,
  });
  onTestFinished(() => processor.close());
  await processor.start();
  await produce(input, [
    { key: "k", value: Buffer.alloc(150_000, "x"), headers: { trace: "t" } },
    { key: "k", value: Buffer.from("1") },
  ]);
  await waitUntil("the good message applied", async () => {
    const table = await readTable(`${group}-table`);
    return table.get("k")?.value.toString() === "1";
  });
  const dead: { key: string; value: Buffer; headers: Record<string, string> }[] = [];
  await readToEnd(`${group}-dlq`, (m) =>
    dead.push({ key: String(m.key), value: m.value!, headers: headersOf(m) }),
  );
  expect(dead).toHaveLength(1);
  const [letter] = dead;
  expect(letter!.key).toBe("k");
  expect(letter!.headers).toMatchObject({
    trace: "t",
    "toka-error-code": "TOKA_DECODE_FAILED",
    "toka-error-truncated": "true",
    "toka-original-value-bytes": "150000",
  });
  expect(letter!.value.byteLength).toBeGreaterThan(19_000);
  expect(letter!.value.equals(Buffer.alloc(letter!.value.byteLength, "x"))).toBe(true);
  expect(processor.status).toBe("running");
});
