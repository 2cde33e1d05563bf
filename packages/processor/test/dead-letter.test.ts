import fc from "fast-check";
import { expect, test } from "vitest";
import type { IncomingRecord } from "../src/client/kafka-client.js";
import { recordBatchSize } from "../src/client/record-batch-encoder.js";
import { DeadLetterHeader, deadLetter, MAX_ERROR_MESSAGE_BYTES } from "../src/dead-letter.js";
import { TokaError, TokaErrorCode } from "../src/errors.js";

function input(parts: Partial<IncomingRecord>): IncomingRecord {
  return {
    topic: "in",
    partition: 3,
    offset: "42",
    key: new Uint8Array([1, 2]),
    value: new Uint8Array(10),
    headers: {},
    timestamp: 0,
    ...parts,
  };
}

const error = new TokaError(TokaErrorCode.DecodeFailed, "does not decode", { topic: "in" });

test("a letter that fits keeps key, value and headers unchanged and adds the error headers", () => {
  const record = input({ headers: { trace: "t" } });
  const letter = deadLetter(record, error, "g-dlq", 1_000_000);
  expect(letter).toEqual({
    topic: "g-dlq",
    key: record.key,
    value: record.value,
    headers: {
      trace: "t",
      "toka-error-code": "TOKA_DECODE_FAILED",
      "toka-error-message": error.message,
      "toka-source-topic": "in",
      "toka-source-partition": "3",
      "toka-source-offset": "42",
    },
  });
});

test("the error message header is cut to MAX_ERROR_MESSAGE_BYTES", () => {
  const long = new TokaError(TokaErrorCode.CallbackFailed, "é".repeat(10_000));
  const letter = deadLetter(input({}), long, "g-dlq", 10_000_000);
  const message = letter.headers[DeadLetterHeader.ErrorMessage]!;
  expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
  expect(message).toMatch(/^é+…$/);
});

test("a letter too large has its value cut to fit, with headers saying so", () => {
  const value = new Uint8Array(5_000).map((_, i) => i % 251);
  const letter = deadLetter(input({ value, headers: { trace: "t" } }), error, "g-dlq", 2_000);
  expect(recordBatchSize(letter)).toBeLessThanOrEqual(2_000);
  expect(letter.key).toEqual(new Uint8Array([1, 2]));
  expect(letter.headers).toMatchObject({
    trace: "t",
    [DeadLetterHeader.Truncated]: "true",
    [DeadLetterHeader.OriginalValueBytes]: "5000",
  });
  expect(letter.value).toEqual(value.subarray(0, letter.value!.byteLength));
  expect(letter.value!.byteLength).toBeGreaterThan(1_000);
});

test("property: every letter fits the limit; what is kept is the original's, and what is cut is said", () => {
  const bytes = (max: number) => fc.uint8Array({ maxLength: max });
  fc.assert(
    fc.property(
      fc.option(bytes(3_000), { nil: null }),
      fc.option(bytes(3_000), { nil: null }),
      fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ maxLength: 1_000 }), {
        maxKeys: 5,
      }),
      fc.integer({ min: MAX_ERROR_MESSAGE_BYTES + 1_024, max: 12_000 }),
      (key, value, headers, limit) => {
        const record = input({ key, value, headers });
        const letter = deadLetter(record, error, "g-dlq", limit);
        expect(recordBatchSize(letter)).toBeLessThanOrEqual(limit);
        const h = letter.headers;
        if (h[DeadLetterHeader.Truncated] === undefined) {
          expect(letter.value).toEqual(value);
          expect(letter.key).toEqual(key);
          return;
        }
        expect(h[DeadLetterHeader.OriginalValueBytes]).toBe(String(value?.byteLength ?? 0));
        if (value === null) expect(letter.value).toBeNull();
        else expect(letter.value).toEqual(value.subarray(0, letter.value!.byteLength));
        if (h[DeadLetterHeader.OriginalKeyBytes] === undefined) expect(letter.key).toEqual(key);
        else expect(letter.key).toBeNull();
        if (h[DeadLetterHeader.OriginalHeaderBytes] === undefined)
          for (const [name, v] of Object.entries(headers)) expect(h[name]).toBe(v);
      },
    ),
  );
});
