import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { jsonCodec } from "@toka/codec";
import { defineGroup, output, persist } from "@toka/processor";
import { afterEach, describe, expect, test } from "vitest";
import { tester } from "./helpers.js";

// The processor skips a message's span and the trace headers of what it writes when no
// OpenTelemetry SDK is installed; these tests pin down where that shortcut must not apply.

const codec = jsonCodec<number>();
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const traceparent = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

afterEach(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

function relay() {
  return defineGroup("relay", {
    persist: persist(codec),
    outputs: [output("relayed", codec)],
    inputs: ({ input }) => [
      input("incoming", codec, (ctx, n) => {
        ctx.setValue(n);
        ctx.emit("relayed", ctx.key, n);
      }),
    ],
  });
}

async function relayOne() {
  const t = tester();
  t.createTopic("incoming", 1);
  t.createTopic("relayed", 1);
  await t.startProcessor(relay());
  await t.emit("incoming", "k", 1, { codec, headers: { traceparent } });
  return { emitted: t.messages("relayed", codec), table: t.messages("relay-table", codec) };
}

describe("trace context without a tracer provider", () => {
  test("a propagator alone carries the message's trace into its emits and table record", async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());

    const { emitted, table } = await relayOne();

    expect(emitted[0]?.headers.traceparent).toContain(TRACE_ID);
    expect(table[0]?.headers.traceparent).toContain(TRACE_ID);
  });

  test("with nothing installed, nothing is added to the records' headers", async () => {
    const { emitted, table } = await relayOne();

    expect(emitted).toHaveLength(1);
    expect(Object.keys(emitted[0]!.headers)).toEqual(["toka-id", "toka-origin"]);
    expect(Object.keys(table[0]!.headers)).toEqual(["toka-id"]);
  });
});
