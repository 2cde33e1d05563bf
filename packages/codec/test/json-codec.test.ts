import { describe, expect, expectTypeOf, it } from "vitest";
import * as z from "zod";
import * as zm from "zod/mini";
import { type Codec, type CodecValue, jsonCodec } from "../src/index.js";
import { expectCodecError } from "./codec-contract.js";
import { OrderEventJson, sampleOrderEventJson } from "./order-event-fixtures.js";

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const Deposit = z.object({ account: z.string().min(1), amount: z.number().positive() });
type Deposit = z.infer<typeof Deposit>;

describe("jsonCodec types", () => {
  it("infers the value type from the schema", () => {
    const codec = jsonCodec(Deposit);
    expectTypeOf(codec).toEqualTypeOf<Codec<{ account: string; amount: number }>>();
    expectTypeOf(codec.decode).returns.toEqualTypeOf<Deposit>();
    expectTypeOf<CodecValue<typeof codec>>().toEqualTypeOf<Deposit>();
    expectTypeOf(jsonCodec(OrderEventJson).decode).returns.toEqualTypeOf<OrderEventJson>();
  });

  it("uses the output type of a schema with z.codec fields", () => {
    const Reading = z.object({
      at: z.codec(z.iso.datetime(), z.date(), {
        decode: (iso) => new Date(iso),
        encode: (date) => date.toISOString(),
      }),
    });
    expectTypeOf(jsonCodec(Reading)).toEqualTypeOf<Codec<{ at: Date }>>();
  });

  it("infers from zod/mini schemas too", () => {
    const codec = jsonCodec(zm.object({ id: zm.string(), n: zm.optional(zm.number()) }));
    expectTypeOf(codec.decode).returns.toEqualTypeOf<{ id: string; n?: number | undefined }>();
    expect(codec.decode(utf8('{"id":"a"}'))).toEqual({ id: "a" });
    expectCodecError(() => codec.decode(utf8('{"id":1}')), "CODEC_SCHEMA_VIOLATION");
  });

  it("is unknown without a schema, or the type argument given", () => {
    expectTypeOf(jsonCodec()).toEqualTypeOf<Codec<unknown>>();
    expectTypeOf(jsonCodec<Deposit>()).toEqualTypeOf<Codec<Deposit>>();
    expectTypeOf(jsonCodec<Deposit>({ maxBytes: 1024 })).toEqualTypeOf<Codec<Deposit>>();
  });

  it("rejects values of the wrong type at compile time (and at run time)", () => {
    const codec = jsonCodec(Deposit);
    expectCodecError(
      // @ts-expect-error amount is a number
      () => codec.encode({ account: "alice", amount: "5" }),
      "CODEC_ENCODE_FAILED",
    );
    expectCodecError(
      // @ts-expect-error account is required
      () => codec.encode({ amount: 5 }),
      "CODEC_ENCODE_FAILED",
    );
    // @ts-expect-error the decoded value has no such field
    expect(codec.decode(codec.encode({ account: "a", amount: 1 })).balance).toBeUndefined();
    // @ts-expect-error with a schema the type comes from the schema, not a type argument
    jsonCodec<Deposit>(Deposit);
  });
});

describe("jsonCodec with a schema", () => {
  const codec = jsonCodec(Deposit);

  it("writes compact UTF-8 JSON", () => {
    expect(text(codec.encode({ account: "zoë", amount: 5 }))).toBe('{"account":"zoë","amount":5}');
  });

  it("validates on encode: CODEC_ENCODE_FAILED with the zod issues as cause", () => {
    const error = expectCodecError(
      () => codec.encode({ account: "", amount: -1 }),
      "CODEC_ENCODE_FAILED",
      "json",
    );
    expect(error.message).toContain("$.account");
    expect(error.message).toContain("$.amount");
    const issues = (error.cause as z.ZodError).issues;
    expect(issues.map((issue) => issue.path)).toEqual([["account"], ["amount"]]);
  });

  it("validates on decode: CODEC_SCHEMA_VIOLATION with the zod issues as cause", () => {
    const error = expectCodecError(
      () => codec.decode(utf8('{"account":"alice","amount":"5"}')),
      "CODEC_SCHEMA_VIOLATION",
    );
    expect(error.message).toMatch(/^json: the JSON does not match the schema: \$\.amount: /);
    expect((error.cause as z.ZodError).issues).toHaveLength(1);
  });

  it("lists at most three issues in the message and counts the rest", () => {
    const Wide = z.object({
      a: z.string(),
      b: z.string(),
      c: z.string(),
      d: z.string(),
      e: z.string(),
    });
    const error = expectCodecError(
      () => jsonCodec(Wide).decode(utf8("{}")),
      "CODEC_SCHEMA_VIOLATION",
    );
    expect(error.message).toContain("(and 2 more)");
    expect((error.cause as z.ZodError).issues).toHaveLength(5);
  });

  it("strips keys the schema does not know, as zod does", () => {
    expect(codec.decode(utf8('{"account":"a","amount":1,"extra":true}'))).toEqual({
      account: "a",
      amount: 1,
    });
    expect(text(codec.encode({ account: "a", amount: 1, extra: true } as Deposit))).toBe(
      '{"account":"a","amount":1}',
    );
  });

  it("is named after the schema's registry id, or the name option", () => {
    expect(jsonCodec(OrderEventJson).name).toBe("json(OrderEvent)");
    expect(jsonCodec(Deposit.meta({ title: "Deposit" })).name).toBe("json(Deposit)");
    expect(jsonCodec(Deposit).name).toBe("json");
    expect(jsonCodec(Deposit, { name: "deposits-value" }).name).toBe("deposits-value");
    expect(jsonCodec().name).toBe("json");
  });

  it("round-trips a realistic event", () => {
    const events = jsonCodec(OrderEventJson);
    expect(events.decode(events.encode(sampleOrderEventJson))).toEqual(sampleOrderEventJson);
  });

  it("encodes through z.codec: a Date field is an ISO string in the JSON", () => {
    const Reading = z.object({
      at: z.codec(z.iso.datetime(), z.date(), {
        decode: (iso) => new Date(iso),
        encode: (date) => date.toISOString(),
      }),
    });
    const readings = jsonCodec(Reading);
    const bytes = readings.encode({ at: new Date(Date.UTC(2024, 0, 2)) });
    expect(text(bytes)).toBe('{"at":"2024-01-02T00:00:00.000Z"}');
    expect(readings.decode(bytes).at).toEqual(new Date(Date.UTC(2024, 0, 2)));
  });

  it("cannot encode through a one-way .transform(): CODEC_ENCODE_FAILED pointing to z.codec", () => {
    const Length = z.object({ n: z.string().transform((s) => s.length) });
    const lengths = jsonCodec(Length);
    expect(lengths.decode(utf8('{"n":"abc"}'))).toEqual({ n: 3 });
    const error = expectCodecError(() => lengths.encode({ n: 3 }), "CODEC_ENCODE_FAILED");
    expect(error.message).toContain("z.codec()");
  });

  it("reports a Date a plain z.date() schema lets through, instead of writing a string it cannot read back", () => {
    const error = expectCodecError(
      () => jsonCodec(z.object({ at: z.date() })).encode({ at: new Date(0) }),
      "CODEC_ENCODE_FAILED",
    );
    expect(error.message).toContain("$.at: a Date becomes a string");
  });

  it("turns a throwing refinement into CODEC_SCHEMA_VIOLATION with the thrown error as cause", () => {
    const boom = new Error("boom");
    const Picky = z.string().refine(() => {
      throw boom;
    });
    const error = expectCodecError(
      () => jsonCodec(Picky).decode(utf8('"x"')),
      "CODEC_SCHEMA_VIOLATION",
    );
    expect(error.cause).toBe(boom);
  });

  it("turns an async refinement into a clear error on both sides", () => {
    const Async = z.string().refine(async () => true);
    const codec = jsonCodec(Async);
    expectCodecError(() => codec.decode(utf8('"x"')), "CODEC_SCHEMA_VIOLATION");
    expectCodecError(() => codec.encode("x"), "CODEC_ENCODE_FAILED");
  });

  describe('a "__proto__" key, which zod drops without an error', () => {
    const Attributes = z.object({ attributes: z.record(z.string(), z.string()) });
    const attributes = jsonCodec(Attributes);

    it("is rejected on decode as CODEC_SCHEMA_VIOLATION with its path", () => {
      const error = expectCodecError(
        () => attributes.decode(utf8('{"attributes":{"a":"1","__proto__":"2"}}')),
        "CODEC_SCHEMA_VIOLATION",
      );
      expect(error.message).toContain('"__proto__" key at $.attributes');
    });

    it("is rejected when spelled with \\u escapes too", () => {
      expectCodecError(
        () => attributes.decode(utf8('{"attributes":{"\\u005f_proto__":"2"}}')),
        "CODEC_SCHEMA_VIOLATION",
      );
    });

    it("in a string value is harmless", () => {
      expect(attributes.decode(utf8('{"attributes":{"k":"__proto__ \\u0041"}}'))).toEqual({
        attributes: { k: "__proto__ A" },
      });
    });

    it("stays an own property without a schema", () => {
      const value = jsonCodec().decode(utf8('{"__proto__":1}')) as Record<string, unknown>;
      expect(Object.keys(value)).toEqual(["__proto__"]);
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    });
  });
});

describe("jsonCodec without a schema", () => {
  const codec = jsonCodec();

  it("trusts the type argument: decoding does not validate", () => {
    const typed = jsonCodec<Deposit>();
    expect(typed.decode(utf8('{"whatever":true}'))).toEqual({ whatever: true });
  });

  it("encodes null as the JSON text null, which is a value, not a tombstone", () => {
    expect(text(codec.encode(null))).toBe("null");
    expect(codec.decode(utf8("null"))).toBeNull();
  });

  it("omits object properties that are undefined, as JSON does", () => {
    expect(text(codec.encode({ a: 1, b: undefined }))).toBe('{"a":1}');
  });

  it("writes -0 as 0", () => {
    expect(text(codec.encode(-0))).toBe("0");
  });

  it("keeps lone surrogates intact (JSON escapes them)", () => {
    const value = "cut \uD83D";
    expect(text(codec.encode(value))).toBe('"cut \\ud83d"');
    expect(codec.decode(codec.encode(value))).toBe(value);
  });

  it("accepts a leading byte-order mark on decode (RFC 8259 §8.1) and never writes one", () => {
    expect(codec.decode(utf8('\uFEFF{"a":1}'))).toEqual({ a: 1 });
    expect(codec.encode({ a: 1 })[0]).toBe(0x7b);
  });

  it("reports JSON syntax errors as CODEC_MALFORMED with the SyntaxError as cause", () => {
    const error = expectCodecError(() => codec.decode(utf8('{"a":')), "CODEC_MALFORMED");
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it("reports bytes that are not UTF-8 as CODEC_MALFORMED, not a SyntaxError", () => {
    const error = expectCodecError(
      () => codec.decode(new Uint8Array([0x22, 0xff, 0x22])),
      "CODEC_MALFORMED",
    );
    expect(error.message).toContain("not valid UTF-8");
  });

  describe("rejects values JSON would change, naming the path (rejectLossyValues)", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const cases: [string, unknown, string][] = [
      ["NaN", { a: { b: Number.NaN } }, "$.a.b: NaN becomes null"],
      ["Infinity", [1, Number.NEGATIVE_INFINITY], "$[1]: -Infinity becomes null"],
      ["a Date", { at: new Date(0) }, "$.at: a Date becomes a string"],
      ["a Map", { m: new Map() }, "$.m: a Map becomes {}"],
      ["a Set", { s: new Set([1]) }, "$.s: a Set becomes {}"],
      ["a class instance", { p: new Point(1, 2) }, "$.p: an instance of Point loses its prototype"],
      ["binary data", { b: new Uint8Array(2) }, "$.b: binary data becomes an object of indices"],
      ["toJSON", { t: { toJSON: () => 1 } }, "$.t: an object with a toJSON method"],
      ["undefined in an array", [1, undefined], "$[1]: undefined has no JSON form"],
      ["a function property", { f: () => 1 }, "$.f: a function has no JSON form"],
      ["an odd key", { "a b": [Number.NaN] }, '$["a b"][0]: NaN'],
    ];
    for (const [label, value, message] of cases) {
      it(label, () => {
        const error = expectCodecError(() => codec.encode(value), "CODEC_ENCODE_FAILED");
        expect(error.message).toContain(message);
      });
    }

    it("unless rejectLossyValues is false", () => {
      const lax = jsonCodec({ rejectLossyValues: false });
      expect(text(lax.encode({ a: Number.NaN, at: new Date(0) }))).toBe(
        '{"a":null,"at":"1970-01-01T00:00:00.000Z"}',
      );
    });
  });

  it("rejects values with no JSON form even with rejectLossyValues off", () => {
    const lax = jsonCodec({ rejectLossyValues: false });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(expectCodecError(() => lax.encode(cycle), "CODEC_ENCODE_FAILED").message).toContain(
      "reference cycles",
    );
    expect(
      expectCodecError(() => lax.encode({ n: [1n] }), "CODEC_ENCODE_FAILED").message,
    ).toContain("$.n[0]: a bigint has no JSON form");
    expectCodecError(() => lax.encode(undefined), "CODEC_ENCODE_FAILED");
    expectCodecError(() => lax.encode(Symbol("s")), "CODEC_ENCODE_FAILED");
  });

  it("fails deeply nested values that overflow JSON.stringify with a CodecError", () => {
    let deep: unknown[] = [];
    const root = deep;
    for (let i = 0; i < 200_000; i++) {
      const next: unknown[] = [];
      deep.push(next);
      deep = next;
    }
    expectCodecError(() => codec.encode(root), "CODEC_ENCODE_FAILED");
  });
});

describe("jsonCodec options", () => {
  it("rejects unknown options, naming them", () => {
    const error = expectCodecError(
      () => jsonCodec({ maxbytes: 10 } as never),
      "CODEC_INVALID_OPTIONS",
      "json",
    );
    expect(error.message).toContain('unknown option "maxbytes"');
  });

  it("rejects options of the wrong type, naming the option", () => {
    const error = expectCodecError(
      () => jsonCodec(Deposit, { rejectLossyValues: "yes" } as never),
      "CODEC_INVALID_OPTIONS",
    );
    expect(error.message).toContain('option "rejectLossyValues"');
  });

  it("rejects a zod 3 schema with a pointer to zod 4", () => {
    const zod3Like = { _def: { typeName: "ZodObject" }, safeParse: () => ({ success: true }) };
    const error = expectCodecError(() => jsonCodec(zod3Like as never), "CODEC_INVALID_OPTIONS");
    expect(error.message).toContain("zod 4");
  });
});
