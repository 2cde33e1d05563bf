import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { type Admin, Kafka, logLevel } from "kafkajs";
import { expect, inject, onTestFinished, test } from "vitest";
import type { Message } from "../src/message.js";
import { startMessagingService } from "../src/messaging-service.js";
import { messagingNames, topicsOf } from "../src/names.js";

test("the chat service delivers translated messages and blocks a spammer, dropping what they send after", async () => {
  const brokers = inject("kafkaBrokers");
  const names = messagingNames(`${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`);
  const admin = new Kafka({
    clientId: `messaging-test-${names.filter}`,
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  onTestFinished(async () => {
    const existing = new Set(await admin.listTopics());
    const topics = topicsOf(names).filter((topic) => existing.has(topic));
    await admin.deleteTopics({ topics }).catch(() => {});
    await admin.disconnect();
  });

  await using service = await startMessagingService({
    brokers,
    names,
    inboxSize: 5,
    // A user with 3 or more messages, at least 80 % of them sent, is a spammer.
    spamRule: { minMessages: 3, sentRatio: 0.8 },
    translations: { hello: "ahoy", friend: "matey" },
  });
  const { apiUrl, queryUrl } = service;
  const send = async (from: string, to: string, content: string) => {
    const response = await fetch(`${apiUrl}/send/${from}`, {
      method: "POST",
      body: JSON.stringify({ to, content }),
    });
    expect({ status: response.status, body: await response.json() }).toEqual({
      status: 202,
      body: { from, to },
    });
  };
  const read = async (path: string) => {
    const response = await fetch(`${queryUrl}/${path}`);
    return response.status === 200 ? ((await response.json()) as unknown) : undefined;
  };
  const inboxes: Record<string, Message[]> = { alice: [], bob: [] };
  // Sends one message and waits until it is delivered: messages of different senders
  // travel through different partitions, so only waiting orders the inbox.
  const deliver = async (from: string, to: "alice" | "bob", content: string, shown: string) => {
    await send(from, to, content);
    inboxes[to]!.push({ from, to, content: shown });
    await waitUntil(`${from}'s message "${content}" in ${to}'s inbox`, async () => {
      const inbox = await read(`inbox/${to}`);
      return JSON.stringify(inbox) === JSON.stringify(inboxes[to]) ? true : undefined;
    });
  };

  await deliver("alice", "bob", "hello my friend", "ahoy my matey");
  await deliver("bob", "alice", "hello alice", "ahoy alice");
  // The spam detector counts delivered messages, so all three are delivered; the third
  // makes mallory a spammer (3 messages, all sent) and the detector blocks her.
  for (let i = 0; i < 3; i++) await deliver("mallory", "bob", "cheap watches", "cheap watches");
  expect(await waitUntil("mallory to be blocked", () => read("blocked/mallory"))).toEqual({
    blocked: true,
  });

  // Blocked: the filter drops what she sends now.
  await send("mallory", "bob", "cheap watches");
  await send("mallory", "alice", "hello friend, cheap watches");
  await deliver("carol", "bob", "hello bob", "ahoy bob");
  await waitForGroup(admin, names.filter, names.sent);
  await waitForGroup(admin, names.collector, names.received);

  expect(await read("inbox/bob")).toEqual([
    { from: "alice", to: "bob", content: "ahoy my matey" },
    { from: "mallory", to: "bob", content: "cheap watches" },
    { from: "mallory", to: "bob", content: "cheap watches" },
    { from: "mallory", to: "bob", content: "cheap watches" },
    { from: "carol", to: "bob", content: "ahoy bob" },
  ]);
  expect(await read("inbox/alice")).toEqual([{ from: "bob", to: "alice", content: "ahoy alice" }]);
  expect(await read("blocked/mallory")).toEqual({ blocked: true });
  for (const user of ["alice", "bob", "carol"])
    expect(await read(`blocked/${user}`)).toBeUndefined();
});

/** Waits until `group` has processed and committed everything in `topic`. */
async function waitForGroup(admin: Admin, group: string, topic: string) {
  await waitUntil(`group ${group} to commit the end of ${topic}`, async () => {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const offsetOf = (partition: number) => {
      const offset = committed?.partitions.find((p) => p.partition === partition)?.offset;
      // "-1": no commit, right only for a partition that never had a message.
      return offset === "-1" ? "0" : offset;
    };
    return ends.every((e) => offsetOf(e.partition) === e.high) ? true : undefined;
  });
}

/**
 * Polls `check` until it returns something other than `undefined`; fails with `what`
 * after `timeoutMs` instead of hanging.
 */
async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}
