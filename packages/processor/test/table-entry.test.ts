import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { decodeTableEntry, encodeTableEntry, parseDedup } from "../src/table-entry.js";

const dedup = fc.record({
  applied: fc.dictionary(fc.string(), fc.bigInt({ min: 0n, max: 2n ** 62n }).map(String)),
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
          const entry = {
            value: d === undefined && value === undefined ? new Uint8Array() : value,
            dedup: d,
          };
          const decoded = decodeTableEntry(encodeTableEntry(entry));
          expect(decoded.dedup).toEqual(entry.dedup);
          expect(decoded.value ? [...decoded.value] : undefined).toEqual(
            entry.value ? [...entry.value] : undefined,
          );
        },
      ),
    );
  });

  test("unreadable bytes say how to recover", () => {
    expect(() => decodeTableEntry(Uint8Array.of(9, 1, 2))).toThrowError(
      expect.objectContaining({
        code: "TOKA_STORAGE_FAILED",
        message: expect.stringContaining("rebuilt from the table topic"),
      }),
    );
  });

  test("a dedup header that is not dedup JSON is ignored, not fatal", () => {
    expect(parseDedup("{oops")).toBeUndefined();
    expect(parseDedup('{"ids":[]}')).toEqual({ applied: {}, ids: [], duplicates: 0 });
  });
});
