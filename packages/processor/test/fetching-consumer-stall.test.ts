import { afterEach, expect, test, vi } from "vitest";
import type { ClientAdmin } from "../src/client/kafka-client.js";
import { silentLogger } from "../src/logger.js";
import { fetchingConsumer } from "./fetching-consumer-fixture.js";

afterEach(() => {
  vi.useRealTimers();
});

test("a partition that should be fetched but is not answered for 30 s is reported with what holds it, once per 30 s", async () => {
  vi.useFakeTimers();
  const warnings: Record<string, unknown>[] = [];
  const logger = {
    ...silentLogger,
    warn: (message: string, fields?: Readonly<Record<string, unknown>>) =>
      warnings.push({ message, ...fields }),
  };
  const admin = {
    connect: async () => {},
    disconnect: async () => {},
    committedOffsets: async () => new Map([[0, "7"]]),
    watermarks: async () => [{ partition: 0, low: "0", high: "9" }],
  } as unknown as ClientAdmin;
  // No broker is known to lead the partition: it is never fetched.
  const { consumer, assign } = await fetchingConsumer({ admin, logger });
  await consumer.subscribe(["t"]);
  assign([{ topic: "t", partition: 0 }]);

  await vi.advanceTimersByTimeAsync(29_000);
  expect(warnings).toEqual([]);
  await vi.advanceTimersByTimeAsync(2_000);
  expect(warnings).toEqual([
    expect.objectContaining({
      message: "partition not fetched for 30 s",
      topic: "t",
      partition: 0,
      offset: "7",
      leader: undefined,
      leadersStale: true,
    }),
  ]);
  await vi.advanceTimersByTimeAsync(27_000);
  expect(warnings).toHaveLength(1);
  await vi.advanceTimersByTimeAsync(3_000);
  expect(warnings).toHaveLength(2);

  // Paused (a restore under way): not the consumer's to report.
  consumer.pause([{ topic: "t", partition: 0 }]);
  await vi.advanceTimersByTimeAsync(60_000);
  expect(warnings).toHaveLength(2);
  await consumer.disconnect();
});
