import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { decodeDedup, encodeDedup } from "../src/dedup-record.js";
import { decodeTableEntry, encodeTableEntry } from "../src/table-entry.js";

const dedup = fc.record({
  applied: fc.dictionary(fc.string(), fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }).map(String)),
  ids: fc.array(fc.tuple(fc.string(), fc.nat())),
  duplicates: fc.nat(),
});

describe("locally stored table entries", () => {
  test("round-trip a value with or without dedup, and a deletion with dedup", () => {
    fc.assert(
      fc.property(
        fc.option(fc.uint8Array(), { nil: undefined }),
        fc.option(dedup, { nil: undefined }),
        (value, d) => {
          const stored = d === undefined && value === undefined ? new Uint8Array() : value;
          const decoded = decodeTableEntry(
            encodeTableEntry(stored, d === undefined ? undefined : encodeDedup(d)),
          );
          expect(decoded.dedup).toEqual(d === undefined ? undefined : decodeDedup(encodeDedup(d)));
          expect(decoded.value ? [...decoded.value] : undefined).toEqual(
            stored ? [...stored] : undefined,
          );
        },
      ),
    );
  });

  // A production upgrade: local stores written before the binary dedup format.
  test("an entry an older toka stored, with its dedup as JSON, still reads", () => {
    const json = new TextEncoder().encode(
      '{"applied":{"in":"7"},"ids":[["req-1",5]],"duplicates":1}',
    );
    const value = new TextEncoder().encode("42");
    // flag 1 (dedup), the JSON's 4-byte big-endian length, the JSON, the value
    const stored = Uint8Array.of(1, 0, 0, 0, json.byteLength, ...json, ...value);
    const entry = decodeTableEntry(stored);
    expect(entry.dedup).toEqual({ applied: { in: "7" }, ids: [["req-1", 5]], duplicates: 1 });
    expect(new TextDecoder().decode(entry.value)).toBe("42");
    // flag 3: a deleted key that keeps its dedup
    const deleted = decodeTableEntry(Uint8Array.of(3, 0, 0, 0, json.byteLength, ...json));
    expect(deleted).toEqual({ value: undefined, dedup: entry.dedup });
  });

  test("unreadable bytes say how to recover", () => {
    for (const bytes of [Uint8Array.of(9, 1, 2), Uint8Array.of(1, 0, 0, 0, 2, 9, 9)]) {
      expect(() => decodeTableEntry(bytes)).toThrowError(
        expect.objectContaining({
          code: "TOKA_STORAGE_FAILED",
          message: expect.stringContaining("rebuilt from the table topic"),
        }),
      );
    }
  });
});
