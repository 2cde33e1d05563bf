import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import * as z from "zod";
import {
  bytesCodec,
  createBytesCodec,
  createStringCodec,
  float64Codec,
  int32Codec,
  int64Codec,
  jsonCodec,
  protobufCodec,
  stringCodec,
} from "../src/index.js";
import { describeCodecContract } from "./codec-contract.js";
import { LineItemSchema, OrderEventSchema } from "./gen/toka/test/v1/event_pb.js";
import {
  OrderEventJson,
  orderEventArbitrary,
  orderEventJsonArbitrary,
  sampleOrderEvent,
  sampleOrderEventJson,
} from "./order-event-fixtures.js";

const utf8 = (text: string) => new TextEncoder().encode(text);
const bytes = (...values: number[]) => new Uint8Array(values);

/** JSON writes -0 as 0; jsonCodec documents and accepts that, so equality ignores it. */
function withoutNegativeZero<T>(value: T): T {
  if (Object.is(value, -0)) return 0 as T;
  if (Array.isArray(value)) return value.map(withoutNegativeZero) as T;
  if (typeof value !== "object" || value === null) return value;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value; // a Date from a z.codec
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    // defineProperty: a "__proto__" key stays an own property, as JSON.parse makes it.
    Object.defineProperty(out, key, {
      value: withoutNegativeZero(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out as T;
}

/** Text without lone surrogates: every code point, astral ones and U+FEFF included. */
const wellFormedText = fc.string({ unit: "binary" });

describeCodecContract("stringCodec", {
  codec: stringCodec,
  samples: ["", "hello", "Grüße 👋", "\uFEFFleading byte-order mark", "nul\u0000inside", "\uFFFD"],
  arbitrary: wellFormedText,
  invalidValues: [42, null, undefined, { text: "x" }, "lone \uD800 surrogate", "\uDC00"],
  invalidBytes: [
    { label: "a lone continuation byte", bytes: bytes(0x80), code: "CODEC_MALFORMED" },
    { label: "a truncated 3-byte sequence", bytes: bytes(0xe2, 0x82), code: "CODEC_MALFORMED" },
    { label: "an overlong encoding", bytes: bytes(0xc0, 0xaf), code: "CODEC_MALFORMED" },
    {
      label: "an encoded surrogate (CESU-8)",
      bytes: bytes(0xed, 0xa0, 0x80),
      code: "CODEC_MALFORMED",
    },
    { label: "Latin-1 text", bytes: bytes(0x47, 0x72, 0xfc, 0xdf, 0x65), code: "CODEC_MALFORMED" },
  ],
  withMaxBytes: (maxBytes) => createStringCodec({ maxBytes }),
});

describeCodecContract("bytesCodec", {
  codec: bytesCodec,
  samples: [new Uint8Array(0), bytes(0, 255, 128), utf8("text is bytes too")],
  arbitrary: fc.uint8Array({ maxLength: 200 }),
  invalidValues: ["text", null, undefined, [1, 2, 3], new ArrayBuffer(3), 7],
  invalidBytes: [],
  normalize: (value) => new Uint8Array(value),
  withMaxBytes: (maxBytes) => createBytesCodec({ maxBytes }),
});

describeCodecContract("int32Codec", {
  codec: int32Codec,
  samples: [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 42],
  arbitrary: fc.integer(),
  invalidValues: [
    1.5,
    2 ** 31,
    -(2 ** 31) - 1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    1n,
    "1",
    null,
  ],
  invalidBytes: [
    { label: "3 bytes", bytes: bytes(0, 0, 1), code: "CODEC_MALFORMED" },
    { label: "8 bytes (an int64)", bytes: new Uint8Array(8), code: "CODEC_MALFORMED" },
    { label: "no bytes", bytes: new Uint8Array(0), code: "CODEC_MALFORMED" },
  ],
});

describeCodecContract("int64Codec", {
  codec: int64Codec,
  samples: [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 9_007_199_254_740_993n],
  arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  invalidValues: [2n ** 63n, -(2n ** 63n) - 1n, 5, "5", null],
  invalidBytes: [
    { label: "4 bytes (an int32)", bytes: new Uint8Array(4), code: "CODEC_MALFORMED" },
    { label: "9 bytes", bytes: new Uint8Array(9), code: "CODEC_MALFORMED" },
  ],
});

describeCodecContract("float64Codec", {
  codec: float64Codec,
  samples: [0, -0, 1.5, -1e308, Number.MIN_VALUE, Number.NaN, Number.POSITIVE_INFINITY],
  arbitrary: fc.double(),
  invalidValues: [1n, "1.5", null, undefined],
  invalidBytes: [{ label: "4 bytes", bytes: new Uint8Array(4), code: "CODEC_MALFORMED" }],
});

describeCodecContract("jsonCodec() without a schema", {
  codec: jsonCodec(),
  samples: [null, 0, "", [], {}, { nested: [1, "two", { three: true }] }, "\uD800 lone surrogate"],
  // JSON has no -0 (it reads back as 0, which jsonCodec accepts as the same number).
  arbitrary: fc.jsonValue({ stringUnit: "binary" }).map(withoutNegativeZero),
  invalidValues: [
    undefined,
    1n,
    { when: new Date(0) },
    { n: Number.NaN },
    [Number.POSITIVE_INFINITY],
    [undefined],
    new Map([["a", 1]]),
    () => 1,
  ],
  invalidBytes: [
    { label: "bytes that are not UTF-8", bytes: bytes(0x7b, 0xff, 0x7d), code: "CODEC_MALFORMED" },
    { label: "truncated JSON", bytes: utf8('{"a": [1, 2'), code: "CODEC_MALFORMED" },
    { label: "empty input", bytes: new Uint8Array(0), code: "CODEC_MALFORMED" },
    { label: "JSON with trailing garbage", bytes: utf8('{"a":1} x'), code: "CODEC_MALFORMED" },
    { label: "a JavaScript literal, not JSON", bytes: utf8("{a: 1}"), code: "CODEC_MALFORMED" },
    {
      label: "a protobuf message",
      bytes: toBinary(OrderEventSchema, sampleOrderEvent),
      code: "CODEC_MALFORMED",
    },
  ],
  normalize: withoutNegativeZero,
  withMaxBytes: (maxBytes) => jsonCodec({ maxBytes }),
});

describeCodecContract("jsonCodec(zod schema)", {
  codec: jsonCodec(OrderEventJson),
  samples: [sampleOrderEventJson],
  arbitrary: orderEventJsonArbitrary,
  invalidValues: [
    null,
    {},
    { ...sampleOrderEventJson, currency: "EURO" },
    { ...sampleOrderEventJson, occurredAt: new Date(0) },
    { ...sampleOrderEventJson, items: [{ sku: "x", name: "y", quantity: 0, unitPriceCents: 1 }] },
    { ...sampleOrderEventJson, payment: { type: "cash" } },
  ],
  invalidBytes: [
    { label: "truncated JSON", bytes: utf8('{"eventId":'), code: "CODEC_MALFORMED" },
    {
      label: "JSON of another shape",
      bytes: utf8('{"hello":"world"}'),
      code: "CODEC_SCHEMA_VIOLATION",
    },
    { label: "a JSON array", bytes: utf8("[]"), code: "CODEC_SCHEMA_VIOLATION" },
    {
      label: "an event with a negative amount",
      bytes: utf8(JSON.stringify({ ...sampleOrderEventJson, totalAmount: -1 })),
      code: "CODEC_SCHEMA_VIOLATION",
    },
  ],
  normalize: withoutNegativeZero,
  withMaxBytes: (maxBytes) => jsonCodec(OrderEventJson, { maxBytes }),
});

const Reading = z.object({
  sensor: z.string(),
  at: z.codec(z.iso.datetime(), z.date(), {
    decode: (iso) => new Date(iso),
    encode: (date) => date.toISOString(),
  }),
  celsius: z.number().min(-273.15),
});

describeCodecContract("jsonCodec(zod schema with a z.codec Date field)", {
  codec: jsonCodec(Reading),
  samples: [{ sensor: "t-1", at: new Date("2024-01-02T03:04:05.678Z"), celsius: 21.5 }],
  arbitrary: fc.record({
    sensor: fc.string(),
    at: fc.date({
      min: new Date("0000-01-01T00:00:00.000Z"),
      max: new Date("9999-12-31T23:59:59.999Z"),
      noInvalidDate: true,
    }),
    celsius: fc.double({ min: -273.15, max: 1e6, noNaN: true }).map((n) => n + 0),
  }),
  invalidValues: [{ sensor: "t-1", at: "2024-01-02T03:04:05.678Z", celsius: 1 }],
  invalidBytes: [
    {
      label: "a timestamp that is not ISO 8601",
      bytes: utf8('{"sensor":"t","at":"yesterday","celsius":1}'),
      code: "CODEC_SCHEMA_VIOLATION",
    },
  ],
  normalize: withoutNegativeZero,
  withMaxBytes: (maxBytes) => jsonCodec(Reading, { maxBytes }),
});

describeCodecContract("protobufCodec(OrderEventSchema)", {
  codec: protobufCodec(OrderEventSchema),
  samples: [sampleOrderEvent, create(OrderEventSchema)],
  arbitrary: orderEventArbitrary,
  invalidValues: [
    null,
    { eventId: "a plain object, not a message" },
    create(LineItemSchema),
    { ...sampleOrderEvent, schemaVersion: -1 },
    { ...sampleOrderEvent, sequence: 2n ** 64n },
    { ...sampleOrderEvent, eventId: undefined },
    { ...sampleOrderEvent, tags: "not-a-list" },
    { ...sampleOrderEvent, customerId: "cut \uD83D" },
  ],
  invalidBytes: [
    {
      label: "a truncated message",
      bytes: toBinary(OrderEventSchema, sampleOrderEvent).subarray(0, 40),
      code: "CODEC_MALFORMED",
    },
    {
      label: "a length prefix past the end",
      bytes: bytes(0x0a, 0x7f, 0x41),
      code: "CODEC_MALFORMED",
    },
    { label: "field number 0", bytes: bytes(0x00, 0x01), code: "CODEC_MALFORMED" },
    { label: "wire type 7", bytes: bytes(0x0f), code: "CODEC_MALFORMED" },
    {
      label: "an 11-byte varint",
      bytes: bytes(0x30, ...new Array(10).fill(0xff), 0x01),
      code: "CODEC_MALFORMED",
    },
    {
      label: "invalid UTF-8 in a string field",
      bytes: bytes(0x0a, 0x02, 0xc3, 0x28),
      code: "CODEC_MALFORMED",
    },
    {
      label: "an unterminated group",
      bytes: bytes(0xa3, 0x06, 0x08, 0x01),
      code: "CODEC_MALFORMED",
    },
  ],
  withMaxBytes: (maxBytes) => protobufCodec(OrderEventSchema, { maxBytes }),
});
