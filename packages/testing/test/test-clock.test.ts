import { describe, expect, test } from "vitest";
import { DEFAULT_START_TIME, TestClock } from "../src/index.js";

describe("TestClock", () => {
  test("starts at a fixed time and moves only when told", () => {
    const clock = new TestClock();
    expect(clock.now()).toBe(DEFAULT_START_TIME);
    expect(new Date(DEFAULT_START_TIME).toISOString()).toBe("2025-01-01T00:00:00.000Z");
    clock.advance(1500);
    expect(clock.now()).toBe(DEFAULT_START_TIME + 1500);
    expect(new TestClock(7).now()).toBe(7);
  });

  test("never goes back", () => {
    const clock = new TestClock(0);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow(/only moves forward/);
    expect(clock.now()).toBe(0);
  });
});
