import { jsonCodec } from "@toka/codec";
import {
  Emitter,
  EmitterStatus,
  Processor,
  type ProcessorStatus,
  silentLogger,
  TokaErrorCode,
  View,
  type ViewStatus,
} from "@toka/processor";
import { describe, expect, onTestFinished, test } from "vitest";
import { brokers, createTopic, uniqueName } from "./helpers.js";
import { Order, orderGroup } from "./order-group.js";
import { rejection } from "./rejection.js";

describe("one lifecycle for processor, view and emitter", () => {
  test("processor: idle → starting → running → closing → closed; one close for many calls; no restart", async () => {
    const input = await createTopic("orders", 2);
    const group = uniqueName("orders");
    const processor = new Processor(orderGroup(group, input), {
      brokers: brokers(),
      logger: silentLogger,
    });
    onTestFinished(() => processor.close());
    const statuses: ProcessorStatus[] = [];
    processor.on("status", (s) => statuses.push(s));
    expect(processor.status).toBe("idle");
    const started = processor.start();
    expect(processor.start()).toBe(started);
    await started;
    await processor.waitFor("running", { timeoutMs: 30_000 });
    // A status the table never leads back to is refused at once, not after a timeout.
    expect((await rejection(processor.waitFor("starting"))).code).toBe(TokaErrorCode.InvalidState);

    const closes = [processor.close(), processor.close()];
    expect(closes[0]).toBe(closes[1]);
    await Promise.all(closes);
    expect(processor.status).toBe("closed");
    // Recovering may come and go between starting and running; the ends are fixed.
    expect(statuses[0]).toBe("starting");
    expect(statuses.slice(-3)).toEqual(["running", "closing", "closed"]);
    const restart = await rejection(processor.start());
    expect(restart).toMatchObject({ code: TokaErrorCode.InvalidState, group });
  });

  test("processor: a start that fails ends failed; close keeps it failed", async () => {
    const group = uniqueName("orders");
    const processor = new Processor(orderGroup(group, uniqueName("missing")), {
      brokers: brokers(),
      logger: silentLogger,
    });
    const error = await rejection(processor.start());
    expect(error.code).toBe(TokaErrorCode.TopicMissing);
    expect(processor.status).toBe("failed");
    expect(await rejection(processor.waitFor("running"))).toBe(error);
    await processor.close();
    expect(processor.status).toBe("failed");
  });

  test("view and emitter: the same statuses, and nothing after close", async () => {
    const table = await createTopic("lifecycle-table", 2);
    const emitter = new Emitter({ brokers: brokers(), topic: table, codec: jsonCodec(Order) });
    onTestFinished(() => emitter.close());
    expect(emitter.status).toBe(EmitterStatus.Idle);
    await emitter.emit("k", { qty: 1 });
    expect(emitter.status).toBe(EmitterStatus.Running);

    const view = new View({ brokers: brokers(), table, codec: jsonCodec(Order) });
    onTestFinished(() => view.close());
    const statuses: ViewStatus[] = [];
    view.on("status", (s) => statuses.push(s));
    await view.start();
    expect(await view.get("k")).toEqual({ qty: 1 });
    await Promise.all([view.close(), view.close()]);
    expect(statuses).toEqual(["starting", "recovering", "running", "closing", "closed"]);
    expect((await rejection(view.start())).code).toBe(TokaErrorCode.InvalidState);

    const closing = emitter.close();
    expect(emitter.status).toBe(EmitterStatus.Closing);
    expect((await rejection(emitter.emit("k", { qty: 2 }))).code).toBe(TokaErrorCode.InvalidState);
    await closing;
    expect(emitter.status).toBe(EmitterStatus.Closed);
  });
});
