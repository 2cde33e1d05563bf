import { createRequire } from "node:module";
import type { IHeaders } from "kafkajs";
import { expect, test } from "vitest";
import { headersOf } from "../src/client/kafkajs-client.js";
import { encodeRecordBatch } from "../src/client/record-batch-encoder.js";

// kafkajs's own record batch decoder, as its consumer runs it on every fetch.
const require = createRequire(import.meta.url);
const Decoder = require("kafkajs/src/protocol/decoder") as new (bytes: Buffer) => unknown;
const decodeBatch = require("kafkajs/src/protocol/recordBatch/v0/decoder") as (
  decoder: unknown,
) => Promise<{ records: { headers: IHeaders }[] }>;

/** Headers as kafkajs's consumer decodes them from the wire. */
async function kafkajsHeaders(headers: [string, string][]): Promise<IHeaders> {
  const record: Record<string, string> = Object.create(null);
  for (const [name, value] of headers) record[name] = value;
  const bytes = encodeRecordBatch([{ key: "k", value: null, headers: record }], 0);
  const batch = await decodeBatch(new Decoder(bytes));
  return batch.records[0]!.headers;
}

test("regression: a header named like an Object.prototype member keeps its value, not the member", async () => {
  const names = ["constructor", "toString", "hasOwnProperty", "__proto__", "valueOf", "plain"];
  const decoded = await kafkajsHeaders(names.map((n) => [n, `v-${n}`]));
  // What kafkajs hands over: the inherited member first, e.g. [Object, <Buffer>].
  expect(Array.isArray(decoded.constructor)).toBe(true);
  const headers = headersOf(decoded);
  expect(Object.entries(headers)).toEqual(names.map((n) => [n, `v-${n}`]));
  expect(Object.getPrototypeOf(headers)).toBeNull();
});

test("a repeated header keeps its first value; a null or empty value is the empty string", () => {
  // kafkajs's shapes: a repeated name an array, after the inherited member if any.
  const repeated = [Object, Buffer.from("first"), Buffer.from("second")] as unknown as Buffer[];
  expect(
    headersOf({ constructor: repeated, empty: Buffer.alloc(0), none: null as unknown as Buffer }),
  ).toEqual({ constructor: "first", empty: "", none: "" });
});

test("a record without headers has none, and a name it lacks finds nothing", () => {
  const headers = headersOf({});
  expect(Object.keys(headers)).toEqual([]);
  expect(headers.constructor).toBeUndefined();
  expect(headersOf(undefined).toString).toBeUndefined();
});
