import { mkdir } from "node:fs/promises";
import { createMonitor } from "@toka/monitor";
import { Processor, serveViews, silentLogger } from "@toka/processor";
import type { Page } from "playwright-core";
import { expect, onTestFinished, test } from "vitest";
import { openBrowser } from "./browser.js";
import { brokers, createTopic, kafkaClient, uniqueName, waitUntil } from "./helpers.js";
import { orderGroup } from "./order-group.js";

async function produce(
  topic: string,
  messages: { key: string; value: string; partition?: number }[],
) {
  const producer = kafkaClient().producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

/** The text of every match of `selector`, trimmed. */
async function texts(page: Page, selector: string): Promise<string[]> {
  return (await page.locator(selector).allTextContents()).map((t) => t.trim());
}

/** Set `MONITOR_SCREENSHOTS=1` to refresh the pictures of docs/monitor.md. */
const screenshots = process.env.MONITOR_SCREENSHOTS === "1";

test("the monitor page shows a running group's partitions, throughput, dead letters and table values", async () => {
  const input = await createTopic("orders", 2);
  const group = uniqueName("orders");
  const processor = new Processor(orderGroup(group, input), {
    brokers: brokers(),
    errorPolicy: "dead-letter",
    guarantee: "exactly-once",
    logger: silentLogger,
  });
  onTestFinished(() => processor.close());
  await processor.start();
  const monitor = createMonitor({
    brokers: brokers(),
    processors: [processor],
    logger: silentLogger,
  });
  onTestFinished(() => monitor.close());
  const service = await serveViews({
    views: {},
    processors: { orders: processor },
    monitor,
    logger: silentLogger,
  });
  onTestFinished(() => service.close());

  // Key "k" on partition 0: 1 + 2 + 3 applied around a message of bad bytes (offset 1)
  // and one whose callback throws (offset 3); other keys on both partitions.
  await produce(input, [
    ...['{"qty":1}', "{not json", '{"qty":2}', '{"qty":-5}', '{"qty":3}'].map((value) => ({
      key: "k",
      value,
      partition: 0,
    })),
    ...Array.from({ length: 40 }, (_, i) => ({ key: `key-${i % 8}`, value: '{"qty":1}' })),
  ]);

  const browser = await openBrowser();
  const page = await browser.newPage();
  // Other tests' groups stay on the broker: open this one's (the page shows the first otherwise).
  await page.goto(`${service.url}/monitor/?group=${encodeURIComponent(group)}`);

  await page.getByRole("button", { name: group }).waitFor();
  await waitUntil("both partitions running with lag 0, each with an owner", async () => {
    const rows = page.locator("#partitions tbody tr");
    if ((await rows.count()) !== 2) return false;
    const states = await texts(page, "#partitions td.state");
    const lags = await texts(page, "#partitions td.lag");
    const owners = await texts(page, "#partitions tbody tr td:nth-child(2)");
    return (
      states.every((s) => s === "running") &&
      lags.every((l) => l === "0") &&
      owners.every((o) => o !== "unassigned")
    );
  });
  expect(await texts(page, "#members tbody tr")).toHaveLength(1);

  const letters = page.locator("#dlq .letter");
  await letters.nth(1).waitFor();
  const letterTexts = await texts(page, "#dlq .letter");
  const decodeLetter = letterTexts.find((t) => t.includes("TOKA_DECODE_FAILED"));
  expect(decodeLetter).toContain(`from ${input}/0/1`);
  expect(decodeLetter).toContain("{not json");
  const callbackLetter = letterTexts.find((t) => t.includes("TOKA_CALLBACK_FAILED"));
  expect(callbackLetter).toContain(`from ${input}/0/3`);
  expect(callbackLetter).toContain("negative quantity -5");

  // Messages processed while the page watches show as a rate above zero.
  await produce(
    input,
    Array.from({ length: 30 }, (_, i) => ({ key: `live-${i}`, value: '{"qty":1}' })),
  );
  await waitUntil("a throughput above zero", async () => {
    const rate = Number.parseFloat((await texts(page, "#throughput .rate"))[0] ?? "0");
    return rate > 0;
  });
  expect(await page.locator("#throughput svg polyline").getAttribute("points")).toBeTruthy();

  await page.getByLabel("key").fill("k");
  await page.getByRole("button", { name: "Look up" }).click();
  await page.locator("#table pre.value").waitFor();
  expect(JSON.parse((await texts(page, "#table pre.value"))[0]!)).toEqual({ total: 6 });
  // Exactly-once: the record carries the key's dedup record.
  await page.locator("#table pre.dedup").waitFor();
  expect((await texts(page, "#table .history tbody tr")).length).toBeGreaterThanOrEqual(1);

  if (screenshots) {
    await mkdir(new URL("../docs/monitor/", import.meta.url), { recursive: true });
    const file = (name: string) => new URL(`../docs/monitor/${name}.png`, import.meta.url).pathname;
    await page.screenshot({ path: file("page"), fullPage: true });
    await page.locator("#partitions").screenshot({ path: file("partitions") });
    await page.locator("#dlq").screenshot({ path: file("dead-letters") });
    await page.locator("#table").screenshot({ path: file("table") });
  }
});

test("the monitor page shows the lag of the standby replicas kept in this process", async () => {
  const input = await createTopic("orders", 2);
  const group = uniqueName("orders-standby");
  // Two instances with a standby of each other's partition (memory storage: both here).
  const processors = [0, 1].map(
    () =>
      new Processor(orderGroup(group, input), {
        brokers: brokers(),
        logger: silentLogger,
        standbyReplicas: 1,
      }),
  );
  for (const processor of processors) {
    onTestFinished(() => processor.close());
    await processor.start();
  }
  const monitor = createMonitor({ brokers: brokers(), processors, logger: silentLogger });
  onTestFinished(() => monitor.close());
  const service = await serveViews({ views: {}, monitor, logger: silentLogger });
  onTestFinished(() => service.close());
  await produce(
    input,
    Array.from({ length: 20 }, (_, i) => ({ key: `key-${i}`, value: '{"qty":1}' })),
  );

  const browser = await openBrowser();
  const page = await browser.newPage();
  await page.goto(`${service.url}/monitor/?group=${encodeURIComponent(group)}`);
  await page.getByRole("button", { name: group }).waitFor();
  // Each partition: owned by one instance, followed by the other, caught up.
  await waitUntil("a caught-up standby of both partitions", async () => {
    const standbys = await texts(page, "#partitions td.standby");
    return standbys.length === 2 && standbys.every((s) => s === "0") ? standbys : false;
  });
  const table = processors.flatMap((p) => p.stats().standbys.map((s) => s.partition)).sort();
  expect(table).toEqual([0, 1]);
});
