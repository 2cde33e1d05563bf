import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  appliedFromOrigin,
  appliedOffset,
  DEDUP_FORMAT_VERSION,
  DEDUP_FORMAT_WITHOUT_ORIGINS,
  decodeDedup,
  emptyDedup,
  encodeDedup,
  type KeyDedup,
  setApplied,
  setAppliedFromOrigin,
} from "../src/dedup-record.js";

/** Dedup records as an older toka made them: without origins (and as JSON, version 0). */
const dedupWithoutOrigins = fc.record({
  applied: fc.dictionary(
    fc.string({ unit: "grapheme", minLength: 1 }),
    fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }).map(String),
  ),
  ids: fc.array(
    fc.tuple(
      fc.string({ unit: "grapheme" }),
      fc.integer({ min: -1, max: 2 ** 45 }), // -1: a record without a timestamp
    ),
  ),
  duplicates: fc.nat(),
});

/** Dedup records as toka makes them: IDs are header text, offsets below 2^53. */
const dedup = fc
  .tuple(
    dedupWithoutOrigins,
    fc.option(
      fc.array(
        fc.tuple(
          fc.string({ unit: "grapheme", minLength: 1 }),
          fc.string({ unit: "grapheme", minLength: 1 }),
          fc.nat({ max: Number.MAX_SAFE_INTEGER }),
          fc.integer({ min: 1, max: 1000 }),
        ),
      ),
      { nil: undefined },
    ),
  )
  .map(([d, origins]): KeyDedup => (origins ? { ...d, origins } : d));

describe("dedup records", () => {
  test("round-trip in the binary format, which starts with its version byte", () => {
    fc.assert(
      fc.property(dedup, (d) => {
        const bytes = encodeDedup(d);
        // A record without origins is written as an older toka reads it.
        expect(bytes[0]).toBe(d.origins ? DEDUP_FORMAT_VERSION : DEDUP_FORMAT_WITHOUT_ORIGINS);
        expect(decodeDedup(bytes)).toEqual(d);
      }),
    );
  });

  test("survive a client that hands header values over as UTF-8 text", () => {
    fc.assert(
      fc.property(dedup, (d) => {
        const text = Buffer.from(encodeDedup(d)).toString("utf8");
        expect(decodeDedup(text)).toEqual(d);
      }),
    );
  });

  test("are smaller than the JSON an older toka wrote", () => {
    const d: KeyDedup = {
      applied: { "sensor-readings": "1234567" },
      ids: [
        ["req-1", 1_760_000_000_000],
        ["req-2", 1_760_000_000_250],
      ],
      duplicates: 0,
    };
    expect(encodeDedup(d).byteLength).toBeLessThan(JSON.stringify(d).length / 2);
  });

  // A production upgrade: table topics and local stores written before the binary
  // format hold the JSON text of the record.
  test("written as JSON by an older toka still read, as bytes and as text", () => {
    const json = '{"applied":{"amounts":"41"},"ids":[["req-1",1700000000000]],"duplicates":2}';
    const expected = {
      applied: { amounts: "41" },
      ids: [["req-1", 1_700_000_000_000]],
      duplicates: 2,
    };
    expect(decodeDedup(json)).toEqual(expected);
    expect(decodeDedup(new TextEncoder().encode(json))).toEqual(expected);
    expect(decodeDedup('{"ids":[]}')).toEqual({ applied: {}, ids: [], duplicates: 0 });
    fc.assert(
      fc.property(dedupWithoutOrigins, (d) => {
        expect(decodeDedup(JSON.stringify(d))).toEqual(d);
      }),
    );
  });

  test("a header that is no dedup record is ignored, not fatal", () => {
    const good = encodeDedup({ applied: { t: "1" }, ids: [["a", 5]], duplicates: 0 });
    for (const bad of [
      "{oops",
      '{"ids":[[1,2]]}',
      '{"applied":{"t":1},"ids":[]}',
      "",
      new Uint8Array(),
      Uint8Array.of(9, 0, 0, 0), // an unknown version
      good.subarray(0, good.byteLength - 1), // cut short
      Uint8Array.of(...good, 0), // trailing bytes
    ]) {
      expect(decodeDedup(bad)).toBeUndefined();
    }
    expect(decodeDedup(undefined)).toBeUndefined();
  });

  test("topics named like members of objects are topics like any other", () => {
    const d = emptyDedup();
    expect(appliedOffset(d, "__proto__")).toBeUndefined();
    expect(appliedOffset(d, "constructor")).toBeUndefined();
    setApplied(d, "__proto__", "3");
    setApplied(d, "constructor", "4");
    setApplied(d, "__proto__", "5");
    expect(Object.getPrototypeOf(d.applied)).toBe(Object.prototype);
    expect(appliedOffset(d, "__proto__")).toBe("5");
    const decoded = decodeDedup(encodeDedup(d))!;
    expect(appliedOffset(decoded, "__proto__")).toBe("5");
    expect(appliedOffset(decoded, "constructor")).toBe("4");
  });

  test("a record of an origin is applied when it comes after the last one applied from its source through its topic", () => {
    const d = emptyDedup();
    const at = (offset: number, index: number) => ({ source: "3/transfers/bank", offset, index });
    expect(appliedFromOrigin(d, "bank-loop", at(10, 1))).toBe(false);
    setAppliedFromOrigin(d, "bank-loop", at(10, 2));
    for (const [offset, index, before] of [
      [9, 5, true],
      [10, 1, true],
      [10, 2, true],
      [10, 3, false],
      [11, 1, false],
    ] as const)
      expect(appliedFromOrigin(d, "bank-loop", at(offset, index))).toBe(before);
    // Another topic, another source: positions of their own.
    expect(appliedFromOrigin(d, "other", at(1, 1))).toBe(false);
    expect(appliedFromOrigin(d, "bank-loop", { ...at(1, 1), source: "4/transfers/bank" })).toBe(
      false,
    );
    setAppliedFromOrigin(d, "bank-loop", at(12, 1));
    expect(d.origins).toEqual([["bank-loop", "3/transfers/bank", 12, 1]]);
    expect(decodeDedup(encodeDedup(d))).toEqual(d);
  });

  test("an offset that is no integer below 2^53 fails the encoding", () => {
    expect(() =>
      encodeDedup({ applied: { t: "9007199254740993" }, ids: [], duplicates: 0 }),
    ).toThrow(RangeError);
  });
});
