import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import * as z from "zod";
import { type OrderEvent, OrderEventSchema, OrderStatus } from "./gen/toka/test/v1/event_pb.js";

/** The JSON form of toka.test.v1.OrderEvent, as a zod schema. */
export const OrderEventJson = z
  .object({
    eventId: z.uuid(),
    orderId: z.string().min(1),
    customerId: z.string().min(1),
    status: z.enum(["placed", "paid", "shipped", "cancelled"]),
    occurredAt: z.iso.datetime(),
    sequence: z.number().int().nonnegative(),
    totalAmount: z.number().nonnegative(),
    currency: z.string().length(3),
    items: z.array(
      z.object({
        sku: z.string(),
        name: z.string(),
        quantity: z.number().int().positive(),
        unitPriceCents: z.number().int().nonnegative(),
      }),
    ),
    shippingAddress: z.object({
      street: z.string(),
      city: z.string(),
      postalCode: z.string(),
      country: z.string().length(2),
    }),
    tags: z.array(z.string()),
    attributes: z.record(z.string(), z.string()),
    priority: z.boolean(),
    couponCode: z.string().optional(),
    schemaVersion: z.number().int().nonnegative(),
    payment: z.discriminatedUnion("type", [
      z.object({ type: z.literal("card"), brand: z.string(), last4: z.string().length(4) }),
      z.object({ type: z.literal("invoice"), invoiceId: z.string() }),
    ]),
  })
  .meta({ id: "OrderEvent" });
export type OrderEventJson = z.infer<typeof OrderEventJson>;

const text = fc.string({ unit: "binary", maxLength: 20 });
const nonEmpty = fc.string({ unit: "binary", minLength: 1, maxLength: 20 });
const fixed = (length: number) =>
  fc.string({ unit: "binary-ascii", minLength: length, maxLength: length });
/** Doubles JSON keeps intact: finite, and no -0 (JSON writes it as 0). */
const jsonDouble = fc
  .double({ min: 0, noNaN: true, noDefaultInfinity: true })
  .map((n) => (Object.is(n, -0) ? 0 : n));
const instant = fc.date({
  min: new Date("1970-01-01T00:00:00.000Z"),
  max: new Date("9999-12-31T23:59:59.999Z"),
  noInvalidDate: true,
});

/** Any value {@link OrderEventJson} accepts. */
export const orderEventJsonArbitrary: fc.Arbitrary<OrderEventJson> = fc.record(
  {
    eventId: fc.uuid(),
    orderId: nonEmpty,
    customerId: nonEmpty,
    status: fc.constantFrom("placed", "paid", "shipped", "cancelled"),
    occurredAt: instant.map((d) => d.toISOString()),
    sequence: fc.maxSafeNat(),
    totalAmount: jsonDouble,
    currency: fixed(3),
    items: fc.array(
      fc.record({
        sku: text,
        name: text,
        quantity: fc.integer({ min: 1, max: 1000 }),
        unitPriceCents: fc.maxSafeNat(),
      }),
      { maxLength: 5 },
    ),
    shippingAddress: fc.record({
      street: text,
      city: text,
      postalCode: text,
      country: fixed(2),
    }),
    tags: fc.array(text, { maxLength: 5 }),
    // zod drops a "__proto__" key (see the jsonCodec docs), so values with one are not
    // values of the schema.
    attributes: fc.dictionary(
      text.filter((key) => key !== "__proto__"),
      text,
      { maxKeys: 5, noNullPrototype: true },
    ),
    priority: fc.boolean(),
    couponCode: text,
    schemaVersion: fc.nat(),
    payment: fc.oneof(
      fc.record({ type: fc.constant("card" as const), brand: text, last4: fixed(4) }),
      fc.record({ type: fc.constant("invoice" as const), invoiceId: text }),
    ),
  },
  {
    requiredKeys: (Object.keys(OrderEventJson.shape) as (keyof OrderEventJson)[]).filter(
      (key) => key !== "couponCode",
    ),
  },
) as fc.Arbitrary<OrderEventJson>;

/** A fixed, realistic event in its JSON form. */
export const sampleOrderEventJson: OrderEventJson = {
  eventId: "5f0c6a4e-8a43-4d6b-9a51-2f6f4f1f9c3e",
  orderId: "ord-2024-000481",
  customerId: "cus-8812",
  status: "paid",
  occurredAt: "2024-05-17T09:41:07.123Z",
  sequence: 7,
  totalAmount: 149.85,
  currency: "EUR",
  items: [
    { sku: "SKU-1001", name: "Espresso beans 1kg", quantity: 2, unitPriceCents: 2495 },
    { sku: "SKU-2040", name: "Burr grinder", quantity: 1, unitPriceCents: 9995 },
  ],
  shippingAddress: {
    street: "Königstraße 12",
    city: "Stuttgart",
    postalCode: "70173",
    country: "DE",
  },
  tags: ["gift", "express"],
  attributes: { channel: "web", campaign: "spring-sale" },
  priority: false,
  couponCode: "SPRING10",
  schemaVersion: 3,
  payment: { type: "card", brand: "visa", last4: "4242" },
};

const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const uint32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });

/** Any toka.test.v1.OrderEvent, every field set to a value of its type. */
export const orderEventArbitrary: fc.Arbitrary<OrderEvent> = fc
  .record({
    eventId: text,
    orderId: text,
    customerId: text,
    status: fc.constantFrom(
      OrderStatus.UNSPECIFIED,
      OrderStatus.PLACED,
      OrderStatus.PAID,
      OrderStatus.SHIPPED,
      OrderStatus.CANCELLED,
    ),
    occurredAt: fc.option(
      fc.record({ seconds: int64, nanos: fc.integer({ min: 0, max: 999_999_999 }) }),
      { nil: undefined },
    ),
    sequence: int64,
    // Every double round-trips in binary protobuf, NaN and -0 included.
    totalAmount: fc.double(),
    currency: text,
    items: fc.array(fc.record({ sku: text, name: text, quantity: uint32, unitPriceCents: int64 }), {
      maxLength: 5,
    }),
    shippingAddress: fc.option(
      fc.record({ street: text, city: text, postalCode: text, country: text }),
      { nil: undefined },
    ),
    tags: fc.array(text, { maxLength: 5 }),
    attributes: fc.dictionary(text, text, { maxKeys: 5, noNullPrototype: true }),
    priority: fc.boolean(),
    couponCode: fc.option(text, { nil: undefined }),
    schemaVersion: uint32,
    payment: fc.oneof(
      fc.constant({ case: undefined }),
      fc.record({
        case: fc.constant("card" as const),
        value: fc.record({ brand: text, last4: text }),
      }),
      fc.record({ case: fc.constant("invoiceId" as const), value: text }),
    ),
  })
  .map((init) => create(OrderEventSchema, init));

/** A fixed, realistic event as a protobuf message; the same content as {@link sampleOrderEventJson}. */
export const sampleOrderEvent: OrderEvent = create(OrderEventSchema, {
  eventId: sampleOrderEventJson.eventId,
  orderId: sampleOrderEventJson.orderId,
  customerId: sampleOrderEventJson.customerId,
  status: OrderStatus.PAID,
  occurredAt: timestampFromMs(Date.parse(sampleOrderEventJson.occurredAt)),
  sequence: 7n,
  totalAmount: 149.85,
  currency: "EUR",
  items: sampleOrderEventJson.items.map((item) => ({
    ...item,
    unitPriceCents: BigInt(item.unitPriceCents),
  })),
  shippingAddress: sampleOrderEventJson.shippingAddress,
  tags: sampleOrderEventJson.tags,
  attributes: sampleOrderEventJson.attributes,
  priority: false,
  couponCode: "SPRING10",
  schemaVersion: 3,
  payment: { case: "card", value: { brand: "visa", last4: "4242" } },
});
