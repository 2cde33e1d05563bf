// The event the codec benchmark encodes and decodes: one order event (~15 fields, nested
// messages, a timestamp, repeated fields, a map, a oneof) in its two forms, JSON checked
// by a zod schema and the generated protobuf message of the same content.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type OrderEvent,
  OrderEventSchema,
  OrderStatus,
} from "../packages/codec/test/gen/toka/test/v1/event_pb.js";
import { OrderEventJson } from "../packages/codec/test/order-event-fixtures.js";

// The schema is the codec tests' own; the benchmark's event is a larger sample of it.
export { OrderEventJson, OrderEventSchema };

export const orderEventJson: OrderEventJson = {
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
    { sku: "SKU-3310", name: "Milk jug 350ml", quantity: 1, unitPriceCents: 1295 },
  ],
  shippingAddress: {
    street: "Königstraße 12",
    city: "Stuttgart",
    postalCode: "70173",
    country: "DE",
  },
  tags: ["gift", "express", "returning-customer"],
  attributes: { channel: "web", campaign: "spring-sale", locale: "de-DE" },
  priority: false,
  couponCode: "SPRING10",
  schemaVersion: 3,
  payment: { type: "card", brand: "visa", last4: "4242" },
};

const STATUS = {
  placed: OrderStatus.PLACED,
  paid: OrderStatus.PAID,
  shipped: OrderStatus.SHIPPED,
  cancelled: OrderStatus.CANCELLED,
} as const;

/** {@link orderEventJson} as a protobuf message. */
export const orderEvent: OrderEvent = create(OrderEventSchema, {
  ...orderEventJson,
  status: STATUS[orderEventJson.status],
  occurredAt: timestampFromMs(Date.parse(orderEventJson.occurredAt)),
  sequence: BigInt(orderEventJson.sequence),
  items: orderEventJson.items.map((item) => ({
    ...item,
    unitPriceCents: BigInt(item.unitPriceCents),
  })),
  payment:
    orderEventJson.payment.type === "card"
      ? {
          case: "card",
          value: { brand: orderEventJson.payment.brand, last4: orderEventJson.payment.last4 },
        }
      : { case: "invoiceId", value: orderEventJson.payment.invoiceId },
});
