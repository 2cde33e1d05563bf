// A user's first processor, built with tsc from the packed @toka/* packages: emits
// clicks, counts them per user in a LevelDB table, and reads the counts through a view.
// Exits 0 when the view shows every click, and prints one JSON line either way.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jsonCodec, stringCodec } from "@toka/codec";
import { defineGroup, Emitter, Processor, persist, silentLogger, View } from "@toka/processor";
import { kafkajsClient } from "@toka/processor/kafka";
import { levelStorage } from "@toka/state-store";
import { z } from "zod";

const brokers = (process.env.KAFKA_BROKERS ?? "").split(",").filter((b) => b.length > 0);
if (brokers.length === 0) throw new Error("KAFKA_BROKERS must name the broker");

const ClickCount = z.object({ clicks: z.number().int() });
const clicks: Record<string, number> = { alice: 3, bob: 2 };
const run = randomUUID().slice(0, 8);
const topic = `scratch-clicks-${run}`;
const group = `scratch-counter-${run}`;
const logger = silentLogger;

const counter = defineGroup(group, {
  persist: persist(jsonCodec(ClickCount)),
  inputs: ({ input }) => [
    input(topic, stringCodec, (ctx) => {
      ctx.setValue({ clicks: (ctx.value()?.clicks ?? 0) + 1 });
    }),
  ],
});

const admin = kafkajsClient({ brokers, clientId: "scratch-admin", logger }).admin();
await admin.connect();
await admin.createTopics([{ topic, partitions: 2, compacted: false }]);
await admin.disconnect();

const stateDir = await mkdtemp(join(tmpdir(), "toka-scratch-"));
const processor = new Processor(counter, {
  brokers,
  logger,
  guarantee: "exactly-once",
  storage: levelStorage({ path: stateDir }),
});
const emitter = new Emitter({ brokers, topic, codec: stringCodec, logger });
const view = new View({ brokers, table: `${group}-table`, codec: jsonCodec(ClickCount), logger });
const counts: Record<string, number> = {};
try {
  await processor.start();
  for (const [user, n] of Object.entries(clicks)) {
    for (let i = 0; i < n; i++) await emitter.emit(user, `click ${i}`);
  }
  await view.start();
  for (const [user, n] of Object.entries(clicks)) {
    const value = await view.waitForKey(user, (v) => (v?.clicks ?? 0) >= n, {
      timeoutMs: 60_000,
    });
    counts[user] = value?.clicks ?? 0;
  }
} finally {
  await view.close();
  await emitter.close();
  await processor.close();
  await rm(stateDir, { recursive: true, force: true });
}
const ok = JSON.stringify(counts) === JSON.stringify(clicks);
console.log(JSON.stringify({ node: process.version, group, counts, ok }));
// Exit explicitly: client libraries may keep timers alive after they disconnected.
process.exit(ok ? 0 : 1);
