import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeWindowKey, StorageErrorCode, windowKey } from "../src/index.js";
import { throwsWith } from "./helpers.js";

const SEED = Number(process.env.TOKA_WINDOW_SEED ?? Date.now() % 2 ** 31);
console.log(`window key property seed ${SEED} (rerun with TOKA_WINDOW_SEED=${SEED})`);
const runs = { seed: SEED, numRuns: 500 };

/** Record keys, including ones that prefix each other and the storage's edge characters. */
const recordKey = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.constantFrom("", "a", "ab", "a\u0000", "a\u007f", "\u0000", "\uE000", "😀", "\u{10FFFF}"),
);
const time = fc.oneof(
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(0, 127, 128, 2 ** 32, Number.MAX_SAFE_INTEGER),
);

/** The order storage uses: UTF-8 bytes compared bytewise. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

describe("windowKey", () => {
  it("round-trips through decodeWindowKey", () => {
    fc.assert(
      fc.property(recordKey, time, (key, start) => {
        expect(decodeWindowKey(windowKey(key, start))).toEqual({ key, start });
      }),
      runs,
    );
  });

  it("sorts one key's windows by start, in the bytes storage compares", () => {
    fc.assert(
      fc.property(recordKey, time, time, (key, a, b) => {
        expect(Math.sign(byteOrder(windowKey(key, a), windowKey(key, b)))).toBe(Math.sign(a - b));
      }),
      runs,
    );
  });

  it("keeps each key's windows contiguous, even for keys that prefix each other", () => {
    // For two different keys, every window of one sorts on the same side of every window
    // of the other: then a scan between two windows of a key meets only that key.
    fc.assert(
      fc.property(recordKey, recordKey, time, time, time, time, (k1, k2, a, b, c, d) => {
        fc.pre(k1 !== k2);
        const sides = new Set(
          [a, b].flatMap((s1) =>
            [c, d].map((s2) => Math.sign(byteOrder(windowKey(k1, s1), windowKey(k2, s2)))),
          ),
        );
        expect(sides.size).toBe(1);
      }),
      runs,
    );
  });

  it("orders the windows of keys that prefix each other by (key, start), not by interleaving", () => {
    const encoded = [
      ["a", 0x61],
      ["ab", 0],
      ["a", 0],
      ["ab", 5],
      ["a", 2 ** 40],
    ] as const;
    const sorted = encoded
      .map(([key, start]) => windowKey(key, start))
      .sort(byteOrder)
      .map(decodeWindowKey);
    expect(sorted).toEqual([
      { key: "a", start: 0 },
      { key: "a", start: 0x61 },
      { key: "a", start: 2 ** 40 },
      { key: "ab", start: 0 },
      { key: "ab", start: 5 },
    ]);
  });

  it("refuses times and keys it cannot encode", () => {
    for (const start of [-1, 0.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN]) {
      const error = throwsWith(() => windowKey("k", start), StorageErrorCode.InvalidArgument);
      expect(error.message).toContain("window start must be a safe integer ≥ 0");
    }
    const error = throwsWith(() => windowKey("\uD800", 0), StorageErrorCode.InvalidArgument);
    expect(error.message).toContain("lone surrogates");
  });

  it("refuses to decode what is not a window key", () => {
    for (const encoded of [
      "",
      "short",
      `${windowKey("abc", 1)}x`,
      "\u0000\u0000\u0000\u0009abc\u0080\u0000\u0000\u0000\u0000\u0000\u0000\u0000",
    ]) {
      const error = throwsWith(() => decodeWindowKey(encoded), StorageErrorCode.InvalidArgument);
      expect(error.message).toContain("Not a window key");
    }
  });
});
