import { memoryStorage, WindowStore, windowTableStorage } from "@toka/state-store";
import { describe, expect, it } from "vitest";
import { TimerClock } from "../src/context.js";
import { tableWriteOf } from "../src/partition-table.js";
import { PartitionTimers } from "../src/partition-timers.js";

const TOPIC = "g-timers";

/** Timers over a memory window store whose scans are counted. */
async function timersWithCountedScans() {
  const store = new WindowStore(memoryStorage()(TOPIC, 0));
  await store.storage.open();
  const storage = windowTableStorage(store);
  let scanned = 0;
  const fetchEnding = store.fetchEnding.bind(store);
  store.fetchEnding = (from, to) => ({
    async *[Symbol.asyncIterator]() {
      for await (const window of fetchEnding(from, to)) {
        scanned += 1;
        yield window;
      }
    },
  });
  const timers = new PartitionTimers(store, TOPIC, 0);
  /** Writes the pending changes as a flush does. */
  const write = async () => {
    const { scheduled, fired } = timers.records();
    await storage.write(tableWriteOf([...scheduled, ...fired]));
    timers.written();
  };
  return { timers, write, scanned: () => scanned };
}

describe("PartitionTimers", () => {
  it("scans the stored timers a wall-clock look has not passed yet, not every past one", async () => {
    const { timers, write, scanned } = await timersWithCountedScans();
    // A backlog's stream-time timers, all in the wall clock's past, and one wall-clock timer.
    for (let i = 0; i < 500; i++)
      timers.schedule(`k${i}`, "check", 1_000 + i, TimerClock.Stream, 0);
    timers.schedule("w", "ping", 50_000, TimerClock.Wall, 0);
    await write();

    expect(await timers.due(TimerClock.Wall, 10_000)).toEqual([]);
    const first = scanned();
    expect(first).toBe(500);
    expect(await timers.due(TimerClock.Wall, 20_000)).toEqual([]);
    expect(scanned() - first).toBe(0);
    const due = await timers.due(TimerClock.Wall, 60_000);
    expect(due.map((t) => t.key)).toEqual(["w"]);
    expect(scanned() - first).toBe(1);
  });

  it("finds a wall-clock timer written at a time already looked past", async () => {
    const { timers, write } = await timersWithCountedScans();
    expect(await timers.due(TimerClock.Wall, 10_000)).toEqual([]);
    timers.schedule("late", "ping", 5_000, TimerClock.Wall, 0);
    await write();
    expect((await timers.due(TimerClock.Wall, 11_000)).map((t) => t.key)).toEqual(["late"]);
  });

  it("looks at the whole store again after its changes were dropped", async () => {
    const { timers, write } = await timersWithCountedScans();
    timers.schedule("a", "ping", 5_000, TimerClock.Wall, 0);
    await write();
    const [timer] = await timers.due(TimerClock.Wall, 10_000);
    timers.fired(timer!);
    // The firing is not written: the flush that would have deleted the timer was dropped.
    timers.dropped();
    expect((await timers.due(TimerClock.Wall, 11_000)).map((t) => t.key)).toEqual(["a"]);
  });
});
