import { jsonCodec } from "@toka/codec";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { decodeSpilledEntry, encodeSpilledEntry, ReplayKeyEntry } from "../src/replay-key-entry.js";

const codec = jsonCodec<{ n: number } | string>();

const entries = fc
  .record({
    value: fc.option(fc.oneof(fc.string(), fc.record({ n: fc.integer() })), { nil: undefined }),
    ids: fc.array(fc.tuple(fc.string(), fc.integer({ min: 0, max: 2 ** 45 })), { maxLength: 40 }),
    applied: fc.integer({ min: -1, max: 2 ** 50 }),
    lastId: fc.string(),
    duplicates: fc.nat(),
    written: fc.boolean(),
  })
  .map((fields) => {
    const entry = new ReplayKeyEntry<{ n: number } | string>("key");
    entry.value = fields.value;
    entry.ids = fields.ids.map(([id]) => id);
    entry.times = fields.ids.map(([, time]) => time);
    entry.applied = fields.applied;
    entry.lastId = fields.lastId;
    entry.duplicates = fields.duplicates;
    entry.written = fields.written;
    return entry;
  });

describe("spilled replay entries", () => {
  test("property: an entry spilled and read back is the entry it was", () => {
    fc.assert(
      fc.property(entries, (entry) => {
        const back = decodeSpilledEntry(encodeSpilledEntry(entry, codec), "key", codec, "g");
        expect({ ...back, dirty: false }).toEqual({ ...entry, dirty: false });
      }),
      { numRuns: 300 },
    );
  });

  test("bytes that do not decode fail with TOKA_DECODE_FAILED naming the key", () => {
    const entry = new ReplayKeyEntry<{ n: number } | string>("k");
    entry.value = "v";
    const bytes = encodeSpilledEntry(entry, codec);
    expect(() => decodeSpilledEntry(bytes.subarray(0, 3), "k", codec, "g")).toThrow(
      expect.objectContaining({ code: "TOKA_DECODE_FAILED", key: "k", group: "g" }),
    );
    const badValue = Uint8Array.from([...bytes.subarray(0, bytes.byteLength - 1), 0x7b]);
    expect(() => decodeSpilledEntry(badValue, "k", codec, "g")).toThrow(
      expect.objectContaining({ code: "TOKA_DECODE_FAILED", key: "k" }),
    );
  });
});
