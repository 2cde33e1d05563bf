import { jsonCodec } from "@toka/codec";
import { defineGroup, Emitter, Guarantee, Processor, persist, silentLogger } from "@toka/processor";
import { levelStorage } from "@toka/state-store";
import { describe, expect, onTestFinished, test } from "vitest";
import { adminClient, brokers, createTopic, tempDir, uniqueName, waitUntil } from "./helpers.js";

interface Reading {
  readonly at: number;
}
const readingCodec = jsonCodec<Reading>();

/** Keeps the last reading per sensor; `seen` gets each message's event and stream time. */
function sensors(name: string, topic: string, seen: [number, number][]) {
  return defineGroup(name, {
    persist: persist(readingCodec),
    inputs: ({ input }) => [
      input(
        topic,
        readingCodec,
        (ctx, reading) => {
          seen.push([ctx.eventTime, ctx.streamTime]);
          ctx.setValue(reading);
        },
        { eventTime: (reading) => reading.at },
      ),
    ],
  });
}

async function emitReadings(topic: string, times: readonly number[]) {
  const emitter = new Emitter({ brokers: brokers(), topic, codec: readingCodec });
  onTestFinished(() => emitter.close());
  // One at a time: their order in the partition is the order given.
  for (const at of times) await emitter.emit("sensor-1", { at });
  await emitter.close();
}

async function runUntilSeen(processor: Processor, seen: readonly unknown[], count: number) {
  await processor.start();
  await waitUntil(`${count} readings processed`, () => seen.length >= count, {
    timeoutMs: 60_000,
  });
  await processor.close();
}

// The group's offset commits carry the stream time through Kafka itself: a member's
// OffsetCommit (at-least-once, exactly-once) and a transaction's TxnOffsetCommit.
describe("stream time on a real broker", { timeout: 120_000 }, () => {
  test.each([Guarantee.AtLeastOnce, Guarantee.ExactlyOnce, Guarantee.ExactlyOnceTransactional])(
    "%s: a new owner without local state continues from the committed stream time",
    async (guarantee) => {
      const topic = await createTopic("readings", 1);
      const group = uniqueName("sensors");
      const seen: [number, number][] = [];
      const graph = sensors(group, topic, seen);
      const options = { brokers: brokers(), guarantee, logger: silentLogger };

      await emitReadings(topic, [100, 900, 300]);
      const first = new Processor(graph, {
        ...options,
        storage: levelStorage({ path: await tempDir() }),
      });
      await runUntilSeen(first, seen, 3);
      expect(seen).toEqual([
        [100, 100],
        [900, 900],
        [300, 900],
      ]);

      const admin = await adminClient();
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      expect(committed?.partitions).toEqual([
        expect.objectContaining({ offset: "3", metadata: "toka/1 stream-time=900" }),
      ]);

      // Another instance with empty local state: only the group's commit knows 900.
      await emitReadings(topic, [200]);
      const second = new Processor(graph, {
        ...options,
        storage: levelStorage({ path: await tempDir() }),
      });
      await runUntilSeen(second, seen, 4);
      expect(seen.at(-1)).toEqual([200, 900]);
    },
  );
});
