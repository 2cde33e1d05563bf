import { create, equals, toBinary } from "@bufbuild/protobuf";
import { describe, expect, expectTypeOf, it } from "vitest";
import { type Codec, type CodecValue, protobufCodec } from "../src/index.js";
import { expectCodecError } from "./codec-contract.js";
import {
  type LineItem,
  LineItemSchema,
  type OrderEvent,
  OrderEventSchema,
  OrderStatusSchema,
} from "./gen/toka/test/v1/event_pb.js";
import { ProfileV1Schema, ProfileV2Schema } from "./gen/toka/test/v1/evolution_pb.js";
import { type Tree, TreeSchema } from "./gen/toka/test/v1/tree_pb.js";
import { sampleOrderEvent } from "./order-event-fixtures.js";

const events = protobufCodec(OrderEventSchema);

describe("protobufCodec types", () => {
  it("infers the generated message type", () => {
    expectTypeOf(events).toEqualTypeOf<Codec<OrderEvent>>();
    expectTypeOf(events.decode).returns.toEqualTypeOf<OrderEvent>();
    expectTypeOf<CodecValue<typeof events>>().toEqualTypeOf<OrderEvent>();
    expectTypeOf(protobufCodec(LineItemSchema)).toEqualTypeOf<Codec<LineItem>>();
  });

  it("rejects a message of another type at compile time (and at run time)", () => {
    const error = expectCodecError(
      // @ts-expect-error a LineItem is not an OrderEvent
      () => events.encode(create(LineItemSchema, { sku: "x" })),
      "CODEC_ENCODE_FAILED",
      "protobuf(toka.test.v1.OrderEvent)",
    );
    expect(error.message).toContain(
      "cannot encode a toka.test.v1.LineItem message with the codec for toka.test.v1.OrderEvent",
    );
    // @ts-expect-error a plain object is not a message: use create()
    expectCodecError(() => events.encode({ eventId: "e" }), "CODEC_ENCODE_FAILED");
    // @ts-expect-error an enum schema is not a message schema
    expectCodecError(() => protobufCodec(OrderStatusSchema), "CODEC_INVALID_OPTIONS");
  });
});

describe("protobufCodec", () => {
  it("is named after the message type", () => {
    expect(events.name).toBe("protobuf(toka.test.v1.OrderEvent)");
    expect(protobufCodec(OrderEventSchema, { name: "orders" }).name).toBe("orders");
  });

  it("writes the standard binary wire format, the same bytes as protobuf-es's toBinary", () => {
    expect(events.encode(sampleOrderEvent)).toEqual(toBinary(OrderEventSchema, sampleOrderEvent));
    expect(
      equals(OrderEventSchema, events.decode(events.encode(sampleOrderEvent)), sampleOrderEvent),
    ).toBe(true);
  });

  it("tells the user to create() a message that has no $typeName", () => {
    const error = expectCodecError(() => events.encode({} as OrderEvent), "CODEC_ENCODE_FAILED");
    expect(error.message).toContain("create(OrderEventSchema, init)");
  });

  it("reports field values of the wrong type or range with the protobuf-es error as cause", () => {
    const error = expectCodecError(
      () => events.encode({ ...sampleOrderEvent, schemaVersion: -1 }),
      "CODEC_ENCODE_FAILED",
    );
    expect(error.message).toContain("toka.test.v1.OrderEvent.schema_version");
    expect(error.cause).toBeInstanceOf(Error);
  });

  it("reports truncated input as CODEC_MALFORMED with the protobuf-es error as cause", () => {
    const bytes = events.encode(sampleOrderEvent);
    const error = expectCodecError(
      () => events.decode(bytes.subarray(0, bytes.length - 3)),
      "CODEC_MALFORMED",
    );
    expect(error.message).toContain("not a valid toka.test.v1.OrderEvent");
    expect(error.cause).toBeInstanceOf(Error);
  });

  describe("schema evolution: unknown fields", () => {
    const v1 = protobufCodec(ProfileV1Schema);
    const v2 = protobufCodec(ProfileV2Schema);
    const newer = create(ProfileV2Schema, {
      id: "p-1",
      name: "Ada",
      email: "ada@example.com",
      roles: ["admin", "author"],
      referrer: { id: "p-0", name: "Grace" },
    });

    it("survive a decode and re-encode by a consumer on the older schema", () => {
      const old = v1.decode(v2.encode(newer));
      expect(old).toMatchObject({ id: "p-1", name: "Ada" });
      expect(old.$unknown?.map((field) => field.no)).toEqual([3, 4, 4, 5]);
      const passedOn = v2.decode(v1.encode({ ...old, name: "Ada L." }));
      expect(equals(ProfileV2Schema, passedOn, { ...newer, name: "Ada L." })).toBe(true);
    });

    it("are dropped on decode with readUnknownFields: false", () => {
      const strict = protobufCodec(ProfileV1Schema, { readUnknownFields: false });
      const old = strict.decode(v2.encode(newer));
      expect(old.$unknown).toBeUndefined();
      expect(v2.decode(strict.encode(old))).toMatchObject({ email: "", roles: [] });
    });

    it("are dropped on encode with writeUnknownFields: false", () => {
      const old = v1.decode(v2.encode(newer));
      const dropping = protobufCodec(ProfileV1Schema, { writeUnknownFields: false });
      expect(v2.decode(dropping.encode(old))).toMatchObject({ id: "p-1", email: "", roles: [] });
    });

    it("let a newer consumer read an older producer's message with defaults", () => {
      const older = create(ProfileV1Schema, { id: "p-2", name: "Alan" });
      expect(v2.decode(v1.encode(older))).toMatchObject({ id: "p-2", email: "", roles: [] });
    });
  });

  describe("string checks before encoding (checkStrings)", () => {
    const trees = protobufCodec(TreeSchema);
    const tree = (init: Parameters<typeof create<typeof TreeSchema>>[1]) =>
      create(TreeSchema, init);

    const cases: [string, OrderEvent | Tree, string][] = [
      [
        "a nested list element",
        create(OrderEventSchema, { items: [{ sku: "ok" }, { name: "cut \uD83D" }] }),
        "$.items[1].name holds a string with a lone surrogate",
      ],
      ["a repeated string", create(OrderEventSchema, { tags: ["a", "\uDE00"] }), "$.tags[1]"],
      [
        "a map key",
        create(OrderEventSchema, { attributes: { "k\uD800": "v" } }),
        '$.attributes["k\\ud800"]',
      ],
      ["a map value", create(OrderEventSchema, { attributes: { k: "\uD800" } }), "$.attributes.k"],
      [
        "a oneof member",
        create(OrderEventSchema, { payment: { case: "card", value: { last4: "\uD800" } } }),
        "$.card.last4",
      ],
      [
        "a recursive message",
        tree({ children: [{ children: [{ label: "\uDFFF" }] }] }),
        "$.children[0].children[0].label",
      ],
      ["a map of messages", tree({ named: { left: { label: "\uD800" } } }), "$.named.left.label"],
      ["an unboxed StringValue wrapper", tree({ note: "\uD800" }), "$.note"],
    ];
    for (const [label, message, path] of cases) {
      it(`find a lone surrogate in ${label}`, () => {
        const codec = (message.$typeName === "toka.test.v1.Tree" ? trees : events) as Codec<
          typeof message
        >;
        const error = expectCodecError(() => codec.encode(message), "CODEC_ENCODE_FAILED");
        expect(error.message).toContain(`field ${path}`);
      });
    }

    it("find a proto3 string set to undefined, which protobuf-es would write as the text undefined", () => {
      const error = expectCodecError(
        () => events.encode({ ...sampleOrderEvent, currency: undefined as never }),
        "CODEC_ENCODE_FAILED",
      );
      expect(error.message).toContain("field $.currency holds undefined, not a string");
    });

    it("accept an optional string left undefined", () => {
      const message = { ...sampleOrderEvent, couponCode: undefined };
      expect(events.decode(events.encode(message)).couponCode).toBeUndefined();
    });

    it("find a string where a list belongs", () => {
      const error = expectCodecError(
        () => events.encode({ ...sampleOrderEvent, tags: "gift" as never }),
        "CODEC_ENCODE_FAILED",
      );
      expect(error.message).toContain("field $.tags holds a string, not an array");
    });

    it("are skipped with checkStrings: false, and protobuf-es then writes U+FFFD", () => {
      const unchecked = protobufCodec(OrderEventSchema, { checkStrings: false });
      const message = create(OrderEventSchema, { eventId: "cut \uD83D" });
      expect(unchecked.decode(unchecked.encode(message)).eventId).toBe("cut \uFFFD");
    });
  });

  describe("nesting limit (recursionLimit)", () => {
    const nested = (depth: number): Tree => {
      let tree = create(TreeSchema, { label: "leaf" });
      for (let i = 0; i < depth; i++) tree = create(TreeSchema, { children: [tree] });
      return tree;
    };

    it("decodes up to the limit and rejects deeper input as CODEC_MALFORMED", () => {
      const limited = protobufCodec(TreeSchema, { recursionLimit: 10 });
      expect(limited.decode(limited.encode(nested(8))).children).toHaveLength(1);
      const error = expectCodecError(
        () => limited.decode(limited.encode(nested(20))),
        "CODEC_MALFORMED",
      );
      expect(error.message).toContain("recursion");
    });

    it("defaults to 100 levels", () => {
      const trees = protobufCodec(TreeSchema);
      expect(() => trees.decode(trees.encode(nested(90)))).not.toThrow();
      expectCodecError(() => trees.decode(trees.encode(nested(150))), "CODEC_MALFORMED");
    });
  });

  it("rejects invalid options, naming them", () => {
    const error = expectCodecError(
      () => protobufCodec(OrderEventSchema, { recursionLimit: 0 }),
      "CODEC_INVALID_OPTIONS",
      "protobuf(toka.test.v1.OrderEvent)",
    );
    expect(error.message).toContain('option "recursionLimit"');
    expectCodecError(
      () => protobufCodec(OrderEventSchema, { readUnknown: false } as never),
      "CODEC_INVALID_OPTIONS",
    );
  });
});
