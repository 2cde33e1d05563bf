import { jsonCodec, stringCodec } from "@toka/codec";
import { Tester } from "@toka/testing";
import { describe, expect, onTestFinished, test } from "vitest";
import { BlockCommand, blocker } from "../src/blocker.js";
import { collector } from "../src/collector.js";
import { countMessage, detector, isSpammer } from "../src/detector.js";
import { filter, translate } from "../src/filter.js";
import { generateLoad } from "../src/load-generator.js";
import { type Message, messageCodec } from "../src/message.js";
import { startMessagingService } from "../src/messaging-service.js";
import { messagingNames, streamsOf } from "../src/names.js";
import { translator } from "../src/translator.js";

const names = messagingNames();
const rule = { minMessages: 3, sentRatio: 0.8 };

// The tester is an in-memory Kafka: the real processors run on it, and every
// `await t.emit(...)` returns once all groups processed everything that followed from
// it (the filter's emit, the collector, the detector's loopback and block command, the
// blocker). So the tests need no polling, and what is eventually consistent on a real
// broker happens here in a fixed order.
function tester(partitions = 4) {
  const t = new Tester();
  onTestFinished(() => t.close());
  for (const topic of streamsOf(names)) t.createTopic(topic, partitions);
  return t;
}

async function startGroups(t: Tester, inboxSize = 5) {
  await t.startProcessor(blocker(names));
  await t.startProcessor(translator(names));
  await t.startProcessor(filter(names));
  await t.startProcessor(collector(names, inboxSize));
  await t.startProcessor(detector(names, rule));
}

const message = (from: string, to: string, content: string): Message => ({ from, to, content });
/** Sends like the chat API: to `message-sent`, keyed by the sender. */
const send = (t: Tester, m: Message) => t.emit(names.sent, m.from, m, { codec: messageCodec });

describe("the groups", () => {
  test("a message is translated word by word and lands in the recipient's inbox", async () => {
    const t = tester();
    await startGroups(t);
    await t.emit(names.translateWord, "hello", "ahoy", { codec: stringCodec });
    await t.emit(names.translateWord, "friend", "matey", { codec: stringCodec });

    await send(t, message("alice", "bob", "hello my friend"));

    expect(await t.tableValue(collector(names), "bob")).toEqual([
      message("alice", "bob", "ahoy my matey"),
    ]);
    expect(t.messages(names.received, messageCodec).map((m) => m.key)).toEqual(["bob"]);
  });

  test("an inbox keeps the last messages only", async () => {
    const t = tester();
    await startGroups(t, 2);
    for (const content of ["one", "two", "three"]) await send(t, message("alice", "bob", content));
    expect(await t.tableValue(collector(names), "bob")).toEqual([
      message("alice", "bob", "two"),
      message("alice", "bob", "three"),
    ]);
  });

  test("a blocked sender's messages are dropped, an unblocked one's delivered again", async () => {
    const t = tester();
    await startGroups(t);
    const command = { codec: jsonCodec(BlockCommand) };

    await t.emit(names.blockUser, "alice", { block: true }, command);
    await send(t, message("alice", "bob", "dropped"));
    await t.emit(names.blockUser, "alice", { block: false }, command);
    await send(t, message("alice", "bob", "delivered"));

    expect(await t.tableValue(collector(names), "bob")).toEqual([
      message("alice", "bob", "delivered"),
    ]);
  });

  test("the spam detector blocks a user who only sends, once they reach the threshold", async () => {
    const t = tester();
    await startGroups(t);

    await send(t, message("bob", "mallory", "stop it"));
    for (let i = 1; i <= 4; i++) await send(t, message("mallory", "bob", `spam ${i}`));

    // mallory received 1 message: with 3 sent that is 75 % sent, not yet a spammer; with 4, 80 %.
    expect(await t.tableValue(detector(names, rule), "mallory")).toEqual({
      sent: 4,
      received: 1,
      reported: true,
    });
    expect(await t.tableValue(blocker(names), "mallory")).toEqual({ blocked: true });
    await send(t, message("mallory", "bob", "spam 5"));
    expect((await t.tableValue(collector(names), "bob"))?.map((m) => m.content)).toEqual([
      "spam 1",
      "spam 2",
      "spam 3",
      "spam 4",
    ]);
    // One block command, not one per message.
    expect(t.messages(names.blockUser, jsonCodec(BlockCommand)).map((m) => m.key)).toEqual([
      "mallory",
    ]);
  });

  test("the filter refuses to start when the blocker's table is not co-partitioned with its input", async () => {
    const t = new Tester();
    onTestFinished(() => t.close());
    t.createTopic(names.sent, 4);
    t.createTopic(names.received, 4);
    t.createTopic(names.blockUser, 2); // so the blocker's table gets 2 partitions
    t.createTopic(names.translateWord, 1);
    await t.startProcessor(blocker(names));
    await t.startProcessor(translator(names));

    await expect(t.startProcessor(filter(names))).rejects.toMatchObject({
      code: "TOKA_NOT_COPARTITIONED",
    });
  });
});

describe("the rules", () => {
  test("a spammer has enough messages and sends most of them", () => {
    expect(isSpammer({ sent: 2, received: 0, reported: false }, rule)).toBe(false);
    expect(isSpammer({ sent: 3, received: 0, reported: false }, rule)).toBe(true);
    expect(isSpammer({ sent: 8, received: 2, reported: false }, rule)).toBe(true);
    expect(isSpammer({ sent: 7, received: 3, reported: false }, rule)).toBe(false);
  });

  test("a spammer is reported once", () => {
    const first = countMessage({ sent: 2, received: 0, reported: false }, "sent", rule);
    expect(first).toEqual({ counters: { sent: 3, received: 0, reported: true }, block: true });
    expect(countMessage(first.counters, "sent", rule).block).toBe(false);
  });

  test("words without a translation stay as they are", async () => {
    const dictionary = new Map([["hello", "ahoy"]]);
    expect(await translate("hello there", async (w) => dictionary.get(w))).toBe("ahoy there");
  });
});

test("the service takes messages over HTTP and serves the inbox, on the tester", async () => {
  const t = new Tester();
  onTestFinished(() => t.close());
  await using service = await startMessagingService({
    client: t.client,
    spamRule: rule,
    translations: { hello: "ahoy" },
  });
  const post = (path: string, body: unknown) =>
    fetch(`${service.apiUrl}/${path}`, { method: "POST", body: JSON.stringify(body) });

  expect((await post("send/alice", { to: "bob", content: "hello bob" })).status).toBe(202);
  expect((await post("send/alice", { to: "bob" })).status).toBe(400);
  await t.idle();

  const inbox = await fetch(`${service.queryUrl}/inbox/bob`);
  expect(await inbox.json()).toEqual([message("alice", "bob", "ahoy bob")]);
  expect((await fetch(`${service.queryUrl}/inbox/carol`)).status).toBe(404);
  expect((await fetch(`${service.queryUrl}/ready`)).status).toBe(200);
});

test("the load generator's spammer is blocked, and nobody else", async () => {
  const t = new Tester();
  onTestFinished(() => t.close());
  await using service = await startMessagingService({ client: t.client });

  const result = await generateLoad({
    url: service.apiUrl,
    count: 150,
    intervalMs: 0,
    random: seededRandom(42),
  });
  await t.idle();

  expect(result).toEqual({ sent: 150, failed: 0 });
  const blocked = await t.table(blocker(names));
  expect([...blocked].filter(([, state]) => state.blocked).map(([user]) => user)).toEqual([
    "mallory",
  ]);
});

/** A small seeded generator (mulberry32): the same traffic in every run. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
