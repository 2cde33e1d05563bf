import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { levelStorage } from "../src/index.js";
import { checkpointFor, stateAfter } from "./fixtures/crash-batches.js";
import { entries, exited, spawnFixture, tempDir, waitForLine } from "./helpers.js";

const KEYS = 1000;
const KILLS = 5;
/** Where each kill lands; set TOKA_CRASH_SEED to replay a run. */
const SEED = Number(process.env.TOKA_CRASH_SEED ?? Date.now() % 2 ** 31);

describe("levelStorage crash safety", () => {
  it("after SIGKILL at random moments, holds exactly the state of one complete batch and that batch's checkpoint", async () => {
    console.log(`levelStorage crash seed ${SEED} (rerun with TOKA_CRASH_SEED=${SEED})`);
    let state = SEED >>> 0;
    const random = () => {
      state = (state * 1664525 + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    const root = await tempDir();
    let recovered = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const child = spawnFixture("crash-writer.ts", [root, String(KEYS)]);
      const start = await waitForLine(child, (line) => line.startsWith("start "));
      expect(start).toBe(`start ${recovered}`);
      let acknowledged = recovered;
      child.stdout!.on("data", (chunk: Buffer) => {
        for (const line of chunk.toString("utf8").split("\n")) {
          if (/^\d+$/.test(line)) acknowledged = Math.max(acknowledged, Number(line));
        }
      });
      // Let it write for a while, then kill it wherever it is: inside a batch, between
      // batches, during a memtable flush or a compaction.
      // Any batch past the start: under load "start" and the first batches arrive in one
      // chunk, which the wait for "start" already consumed.
      await waitForLine(child, (line) => /^\d+$/.test(line) && Number(line) > recovered);
      await delay(Math.floor(random() * 120));
      child.kill("SIGKILL");
      await exited(child);
      expect(child.signalCode).toBe("SIGKILL");

      const storage = levelStorage({ path: root })("crash-table", 0);
      await storage.open();
      try {
        const checkpoint = await storage.checkpoint();
        expect(checkpoint).toBeDefined();
        const n = Number(checkpoint!.tableOffset);
        // Every acknowledged batch survives; at most the one in flight is added.
        expect(n).toBeGreaterThanOrEqual(acknowledged);
        expect(checkpoint).toEqual(checkpointFor(n));
        expect(await entries(storage.iterate())).toEqual(stateAfter(n, KEYS));
        recovered = n;
      } finally {
        await storage.close();
      }
    }
    expect(recovered).toBeGreaterThan(KILLS);
    // Each round starts a process: generous for a loaded machine, the test ends when done.
  }, 300_000);
});
