import { jsonCodec } from "@toka/codec";
import {
  defineGroup,
  ErrorPolicy,
  isTokaError,
  type LogFields,
  type Logger,
  persist,
  silentLogger,
  type TokaError,
  TokaErrorCode,
  View,
} from "@toka/processor";
import { describe, expect, test } from "vitest";
import { tester } from "./helpers.js";

const codec = jsonCodec<number>();

/** Counts the messages of each key. */
const counter = defineGroup("counter", {
  persist: persist(jsonCodec<number>()),
  inputs: ({ input }) => [
    input("events", codec, (ctx) => {
      ctx.setValue((ctx.value() ?? 0) + 1);
    }),
  ],
});

/** A logger that keeps its warnings. */
function recordingLogger(): Logger & { warnings: { message: string; fields?: LogFields }[] } {
  const warnings: { message: string; fields?: LogFields }[] = [];
  return {
    ...silentLogger,
    warnings,
    warn: (message, fields) => warnings.push({ message, ...(fields ? { fields } : {}) }),
  };
}

async function rejection(promise: Promise<unknown>): Promise<TokaError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isTokaError(error)) throw new Error(`expected a TokaError, got ${String(error)}`);
  return error;
}

const invalidA = new Uint8Array([0xff]);
const invalidB = new Uint8Array([0xfe]);
const utf8 = new TextEncoder();

describe("keys that are null or not valid UTF-8", () => {
  test("dead-letter: each is a dead letter with its own key bytes; none is merged into another key", async () => {
    const t = tester();
    t.createTopic("events");
    await t.startProcessor(counter);
    await t.emitMany(
      "events",
      [
        { key: "", value: 1 },
        { key: null, value: 1 },
        { key: invalidA, value: 1 },
        { key: invalidB, value: 1 },
        { key: invalidA, value: 1 },
        // A leading byte-order mark is part of the key, not dropped.
        { key: "\uFEFFa", value: 1 },
        { key: "a", value: 1 },
      ],
      { codec },
    );
    expect(await t.table(counter)).toEqual(
      new Map([
        ["", 1],
        ["a", 1],
        ["\uFEFFa", 1],
      ]),
    );
    const letters = t.messages("counter-dlq", codec);
    expect(letters.map((l) => l.keyBytes)).toEqual([null, invalidA, invalidB, invalidA]);
    expect(letters.map((l) => l.headers["toka-error-code"])).toEqual(
      Array(4).fill(TokaErrorCode.InvalidKey),
    );
    expect(letters.map((l) => l.headers["toka-source-offset"])).toEqual(["1", "2", "3", "4"]);
    expect(letters[0]!.headers["toka-error-message"]).toContain("the key is null");
    expect(letters[1]!.headers["toka-error-message"]).toContain(
      "the key is not valid UTF-8 (hex ff)",
    );
  });

  test("skip: each is counted and logged, and nothing is written for it", async () => {
    const t = tester();
    t.createTopic("events");
    const processor = await t.startProcessor(counter, { errorPolicy: ErrorPolicy.Skip });
    const skipped: TokaError[] = [];
    processor.on("message.skipped", (e) => skipped.push(e));
    await t.emitMany(
      "events",
      [
        { key: null, value: 1 },
        { key: invalidA, value: 1 },
        { key: "k", value: 1 },
      ],
      { codec },
    );
    expect(await t.table(counter)).toEqual(new Map([["k", 1]]));
    expect(skipped.map((e) => [e.code, e.offset])).toEqual([
      [TokaErrorCode.InvalidKey, "0"],
      [TokaErrorCode.InvalidKey, "1"],
    ]);
    expect(t.messages("counter-dlq")).toEqual([]);
  });

  test("fail: the processor stops with TOKA_INVALID_KEY naming the coordinates, the key bytes and the decoder's error", async () => {
    const t = tester();
    t.createTopic("events");
    const processor = await t.startProcessor(counter, { errorPolicy: ErrorPolicy.Fail });
    const error = await rejection(t.emit("events", invalidB, 1, { codec }));
    expect(error).toMatchObject({
      code: TokaErrorCode.InvalidKey,
      group: "counter",
      topic: "events",
      partition: 0,
      offset: "0",
    });
    expect(error.message).toBe(
      'the key is not valid UTF-8 (hex fe); toka keys are UTF-8 strings, so the producers of "events" must set a UTF-8 key (encode binary keys as hex or base64) [group=counter topic=events partition=0 offset=0]',
    );
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(processor.status).toBe("failed");
  });

  test("fail: a null key names itself", async () => {
    const t = tester();
    t.createTopic("events");
    await t.startProcessor(counter, { errorPolicy: ErrorPolicy.Fail });
    const error = await rejection(t.emit("events", null, 1, { codec }));
    expect(error.code).toBe(TokaErrorCode.InvalidKey);
    expect(error.message).toMatch(
      /^the key is null; .* \[group=counter topic=events partition=0 offset=0\]$/,
    );
  });

  test("a long invalid key is shown by its first 64 bytes and its length", async () => {
    const t = tester();
    t.createTopic("events");
    await t.startProcessor(counter);
    await t.emit("events", new Uint8Array(1000).fill(0xff), 1, { codec });
    const [letter] = t.messages("counter-dlq");
    expect(letter!.headers["toka-error-message"]).toContain(
      `(hex ${"ff".repeat(64)}… (1000 bytes))`,
    );
  });
});

describe("table records with a null or invalid key (written by something other than toka)", () => {
  /** The counter's table with a good record between a null key and an invalid one. */
  function corruptTable() {
    const t = tester();
    t.createTopic("events");
    t.createTopic("counter-table", 1, { compacted: true });
    t.append("counter-table", [
      { key: null, value: utf8.encode("7"), id: null },
      { key: "k", value: utf8.encode("2"), id: null },
      { key: invalidA, value: utf8.encode("9"), id: null },
    ]);
    return t;
  }

  test('recovery skips them with a warning naming the record; no key "" appears', async () => {
    const t = corruptTable();
    const logger = recordingLogger();
    await t.startProcessor(counter, { logger });
    await t.emitMany(
      "events",
      [
        { key: "", value: 1 },
        { key: "k", value: 1 },
      ],
      { codec },
    );
    // Written back by the processor: "" counts from 0, "k" from its recovered 2.
    expect(await t.tableValue(counter, "")).toBe(1);
    expect(await t.tableValue(counter, "k")).toBe(3);
    const skips = logger.warnings.filter((w) => w.message.includes("without a valid UTF-8 key"));
    expect(skips.map((w) => w.fields)).toEqual([
      {
        group: "counter",
        topic: "counter-table",
        partition: 0,
        offset: "0",
        key: "the key is null",
      },
      {
        group: "counter",
        topic: "counter-table",
        partition: 0,
        offset: "2",
        key: "the key is not valid UTF-8 (hex ff)",
      },
    ]);
  });

  test("a view skips them with a warning and recovers past them", async () => {
    const t = corruptTable();
    const logger = recordingLogger();
    const view = await t.start(
      new View({ client: t.client, table: "counter-table", codec: jsonCodec<number>(), logger }),
    );
    expect(await view.get("")).toBeUndefined();
    expect(await view.get("\uFFFD")).toBeUndefined();
    expect(await view.get("k")).toBe(2);
    expect(
      logger.warnings.filter((w) => w.message.includes("without a valid UTF-8 key")).length,
    ).toBe(2);
  });
});

/** Header names that are also members of Object.prototype. */
const WEIRD_NAMES = ["constructor", "toString", "hasOwnProperty", "__proto__", "valueOf"];

/** Headers named `names`, each with a value of its own. Defined, so `__proto__` is a name. */
function headersNamed(names: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of names)
    Object.defineProperty(headers, name, { value: `v-${name}`, enumerable: true });
  return headers;
}

describe("header names of any spelling", () => {
  test.each(WEIRD_NAMES)(
    "%s arrives unchanged in ctx.headers and in a dead letter",
    async (name) => {
      const t = tester();
      t.createTopic("events");
      const seen: Readonly<Record<string, string>>[] = [];
      const group = defineGroup("headers", {
        inputs: ({ input }) => [
          input("events", codec, (ctx, value) => {
            seen.push(ctx.headers);
            if (value === 13) throw new Error("unlucky");
          }),
        ],
      });
      await t.startProcessor(group);
      await t.emit("events", "k", 1, { codec, headers: headersNamed([name]), id: null });
      await t.emit("events", "k", 13, { codec, headers: headersNamed([name]), id: null });
      await t.emit("events", "k", 2, { codec, id: null });

      expect(seen.map((h) => Object.entries(h))).toEqual([
        [[name, `v-${name}`]],
        [[name, `v-${name}`]],
        [],
      ]);
      // A name the message lacks finds nothing, not Object.prototype's member.
      expect(seen[2]![name]).toBeUndefined();
      const [letter] = t.messages("headers-dlq", codec);
      expect(Object.hasOwn(letter!.headers, name)).toBe(true);
      expect(letter!.headers[name]).toBe(`v-${name}`);
      expect(letter!.headers["toka-error-code"]).toBe(TokaErrorCode.CallbackFailed);
    },
  );
});

describe("dead letters that are larger than usual", () => {
  /** A value of `bytes` bytes that is not JSON, so it fails to decode. */
  const notJson = (bytes: number) => new Uint8Array(bytes).fill(0x78);

  test("a toka-made dead-letter topic takes the inputs' max.message.bytes plus room for the error headers", async () => {
    const t = tester();
    t.createTopic("events", 1, { config: { "max.message.bytes": "3000" } });
    await t.startProcessor(counter);
    const configs = await t.client.admin().topicConfigs(["counter-dlq"], ["max.message.bytes"]);
    expect(configs.get("counter-dlq")?.get("max.message.bytes")).toBe(String(3000 + 16 * 1024));
    // The largest value the input takes, whose letter has the error headers on top.
    await t.emit("events", "k", notJson(2900));
    const [letter] = t.messages("counter-dlq");
    expect(new Uint8Array(letter!.value!)).toEqual(notJson(2900));
    expect(letter!.headers["toka-error-truncated"]).toBeUndefined();
  });

  test("a letter larger than an existing dead-letter topic allows is stored cut, and the partition goes on", async () => {
    const t = tester();
    t.createTopic("events");
    t.createTopic("counter-dlq", 1, { config: { "max.message.bytes": "6000" } });
    const logger = recordingLogger();
    await t.startProcessor(counter, { logger });
    expect(logger.warnings.map((w) => w.message)).toEqual([
      expect.stringContaining("the dead-letter topic allows 6000 bytes"),
    ]);
    await t.emitMany("events", [
      { key: "k", value: notJson(20_000), headers: { trace: "t" } },
      { key: "k", value: codec.encode(1) },
    ]);
    expect(await t.tableValue(counter, "k")).toBe(1);
    const [letter] = t.messages("counter-dlq");
    expect(letter).toMatchObject({
      key: "k",
      headers: {
        trace: "t",
        "toka-error-code": TokaErrorCode.DecodeFailed,
        "toka-error-truncated": "true",
        "toka-original-value-bytes": "20000",
      },
    });
    const value = new Uint8Array(letter!.value!);
    expect(value.byteLength).toBeGreaterThan(5_000);
    expect(value).toEqual(notJson(value.byteLength));
  });

  test("an invalid key too long for the dead-letter topic is left out, and its length said", async () => {
    const t = tester();
    t.createTopic("events", 1, { config: { "max.message.bytes": "100000" } });
    t.createTopic("counter-dlq", 1, { config: { "max.message.bytes": "6000" } });
    await t.startProcessor(counter);
    await t.emit("events", new Uint8Array(50_000).fill(0xff), 1, { codec });
    const [letter] = t.messages("counter-dlq", codec);
    expect(letter).toMatchObject({
      keyBytes: null,
      value: 1,
      headers: {
        "toka-error-code": TokaErrorCode.InvalidKey,
        "toka-error-truncated": "true",
        "toka-original-key-bytes": "50000",
      },
    });
  });
});
