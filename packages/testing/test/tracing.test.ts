import { context, propagation, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { jsonCodec } from "@toka/codec";
import { defineGroup, Emitter, ErrorPolicy, output, persist, silentLogger } from "@toka/processor";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { tester } from "./helpers.js";

const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});

afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

const codec = jsonCodec<number>();

describe("tracing across Kafka hops", () => {
  test("one trace from an emit through two chained groups to the output", async () => {
    const t = tester();
    t.createTopic("clicks", 2);
    t.createTopic("counts", 2);
    t.createTopic("alerts", 2);
    const counter = defineGroup("counter", {
      persist: persist(codec),
      outputs: [output("counts", codec)],
      inputs: ({ input }) => [
        input("clicks", codec, (ctx, n) => {
          const count = (ctx.value() ?? 0) + n;
          ctx.setValue(count);
          ctx.emit("counts", ctx.key, count);
        }),
      ],
    });
    const alerter = defineGroup("alerter", {
      outputs: [output("alerts", codec)],
      inputs: ({ input }) => [input("counts", codec, (ctx, n) => ctx.emit("alerts", ctx.key, n))],
    });
    await t.startProcessor(counter);
    await t.startProcessor(alerter);
    const emitter = new Emitter({ client: t.client, topic: "clicks", codec, logger: silentLogger });

    const tracer = trace.getTracer("test");
    const traceId = await tracer.startActiveSpan("request", async (span) => {
      await emitter.emit("alice", 3);
      span.end();
      return span.spanContext().traceId;
    });
    await emitter.close();
    await t.idle();

    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.find((s) => s.name === name);
    const request = byName("request")!;
    const first = byName("clicks process")!;
    const second = byName("counts process")!;
    expect(first.spanContext().traceId).toBe(traceId);
    expect(second.spanContext().traceId).toBe(traceId);
    expect(first.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(second.parentSpanContext?.spanId).toBe(first.spanContext().spanId);
    expect(first.attributes).toMatchObject({
      "messaging.system": "kafka",
      "messaging.operation.type": "process",
      "messaging.destination.name": "clicks",
      "messaging.consumer.group.name": "counter",
      "messaging.kafka.message.key": "alice",
    });

    // The output, and the table record of the key, carry the trace on.
    const [alert] = t.messages("alerts", codec);
    expect(alert?.headers.traceparent).toContain(traceId);
    expect(alert?.headers.traceparent).toContain(second.spanContext().spanId);
    const [tableRecord] = t.messages("counter-table", codec);
    expect(tableRecord?.headers.traceparent).toContain(first.spanContext().spanId);
  });
  test("an async callback's span ends when it settles; a failing one records its error", async () => {
    exporter.reset();
    const t = tester();
    t.createTopic("payments", 1);
    const ledger = defineGroup("ledger", {
      persist: persist(codec),
      inputs: ({ input }) => [
        input("payments", codec, async (ctx, n) => {
          await new Promise((resolve) => setImmediate(resolve));
          if (n < 0) throw new Error(`negative payment ${n}`);
          ctx.setValue((ctx.value() ?? 0) + n);
        }),
      ],
    });
    await t.startProcessor(ledger, { errorPolicy: ErrorPolicy.Skip });
    const emitter = new Emitter({
      client: t.client,
      topic: "payments",
      codec,
      logger: silentLogger,
    });
    await emitter.emit("bob", 5);
    await emitter.emit("bob", -1);
    await emitter.close();
    await t.idle();

    const spans = exporter.getFinishedSpans().filter((s) => s.name === "payments process");
    expect(spans).toHaveLength(2);
    const [ok, failed] = spans;
    expect(ok!.status.code).toBe(SpanStatusCode.UNSET);
    expect(failed!.status).toEqual({ code: SpanStatusCode.ERROR, message: "negative payment -1" });
    expect(failed!.events.map((e) => e.name)).toEqual(["exception"]);
    // Set after the await: the table record still continues the span's trace.
    const [tableRecord] = t.messages("ledger-table", codec);
    expect(tableRecord?.value).toBe(5);
    expect(tableRecord?.headers.traceparent).toContain(ok!.spanContext().spanId);
  });
});
