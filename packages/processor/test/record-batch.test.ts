import fc from "fast-check";
import { expect, test } from "vitest";
import { type BatchRecord, readBatchHeaders, readRecords } from "../src/client/record-batch.js";
import { encodeRecordBatch } from "../src/client/record-batch-encoder.js";

const record = fc.record({
  key: fc.option(fc.string(), { nil: null }),
  value: fc.option(fc.uint8Array(), { nil: null }),
  headers: fc.dictionary(fc.string({ minLength: 1 }), fc.string()),
});

test("property: records encoded into a batch read back with their keys, values, headers and offsets", () => {
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 300 }), fc.nat(), (records, base) => {
      const bytes = encodeRecordBatch(records, 1_700_000_000_000);
      // The broker assigns offsets by rewriting the base offset.
      bytes.writeBigInt64BE(BigInt(base), 0);
      const [batch, ...rest] = readBatchHeaders(bytes);
      expect(rest).toEqual([]);
      expect(batch).toMatchObject({
        baseOffset: base,
        nextOffset: base + records.length,
        recordCount: records.length,
        transactional: false,
        control: false,
      });
      const read: BatchRecord[] = [];
      readRecords("t", 0, batch!, batch!.records, 0, Number.MAX_SAFE_INTEGER, read);
      expect(
        read.map((r) => ({
          offset: r.offsetNumber,
          key: r.key === null ? null : new TextDecoder().decode(r.key),
          value: r.value === null ? null : new Uint8Array(r.value),
          headers: r.headers,
          timestamp: r.timestamp,
        })),
      ).toEqual(
        records.map((r, i) => ({
          offset: base + i,
          key: r.key,
          value: r.value,
          headers: r.headers,
          timestamp: 1_700_000_000_000,
        })),
      );
    }),
  );
});

test("property: header(name), headerBytes(name), keyIsNull and byteLength agree with the decoded record", () => {
  const asciiName = fc.string({
    minLength: 1,
    maxLength: 8,
    unit: fc.constantFrom("a", "b", "-", "i"),
  });
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          key: fc.option(fc.string(), { nil: null }),
          value: fc.option(fc.uint8Array(), { nil: null }),
          headers: fc.dictionary(asciiName, fc.string()),
        }),
        { minLength: 1, maxLength: 20 },
      ),
      asciiName,
      (records, name) => {
        const [batch] = readBatchHeaders(encodeRecordBatch(records, 0));
        const read: BatchRecord[] = [];
        readRecords("t", 0, batch!, batch!.records, 0, Number.MAX_SAFE_INTEGER, read);
        read.forEach((r, i) => {
          const expected = records[i]!;
          const text = Object.hasOwn(expected.headers, name) ? expected.headers[name] : undefined;
          expect(r.header(name)).toBe(text);
          const bytes = r.headerBytes(name);
          expect(bytes && Buffer.from(bytes).toString()).toBe(text);
          expect(r.keyIsNull).toBe(expected.key === null);
          expect(r.byteLength).toBe(
            Buffer.byteLength(expected.key ?? "") + (expected.value?.byteLength ?? 0),
          );
        });
      },
    ),
  );
});

test("a batch cut off at the end of a fetch response is left for the next fetch", () => {
  const bytes = encodeRecordBatch([{ key: "k", value: null, headers: {} }], 0);
  const two = Buffer.concat([bytes, bytes.subarray(0, bytes.byteLength - 1)]);
  expect(readBatchHeaders(two)).toHaveLength(1);
});

test("readRecords keeps only [from, to) and header() finds one header without decoding the rest", () => {
  const records = Array.from({ length: 10 }, (_, i) => ({
    key: `k${i}`,
    value: null,
    headers: { a: "x", "toka-id": `id-${i}` },
  }));
  const [batch] = readBatchHeaders(encodeRecordBatch(records, 0));
  const read: BatchRecord[] = [];
  readRecords("t", 0, batch!, batch!.records, 3, 6, read);
  expect(
    read.map((r) => [r.offset, r.keyText(), r.header("toka-id"), r.header("missing")]),
  ).toEqual([
    ["3", "k3", "id-3", undefined],
    ["4", "k4", "id-4", undefined],
    ["5", "k5", "id-5", undefined],
  ]);
});

test("header names like Object.prototype members read back as plain headers; absent ones are absent", () => {
  // fromEntries defines its properties: "__proto__" becomes a name, not the prototype.
  const headers = Object.fromEntries([
    ["__proto__", "p"],
    ["toString", "t"],
  ]);
  const bytes = encodeRecordBatch([{ key: "k", value: null, headers }], 0);
  const [batch] = readBatchHeaders(bytes);
  const read: BatchRecord[] = [];
  readRecords("t", 0, batch!, batch!.records, 0, 1, read);
  const record = read[0]!;
  expect(Object.entries(record.headers)).toEqual([
    ["__proto__", "p"],
    ["toString", "t"],
  ]);
  expect(record.header("constructor")).toBeUndefined();
  expect(record.header("__proto__")).toBe("p");
  expect(record.headers.constructor).toBeUndefined();
});
