import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { EMITTER_TRANSITIONS, type EmitterStatus } from "../src/emitter.js";
import { TokaError, TokaErrorCode } from "../src/errors.js";
import { PROCESSOR_TRANSITIONS, type ProcessorStatus } from "../src/events.js";
import { Lifecycle, type Transitions } from "../src/lifecycle.js";
import { VIEW_TRANSITIONS, type ViewStatus } from "../src/view.js";
import { rejection } from "./rejection.js";

function processorLifecycle(onChange?: (status: ProcessorStatus) => void) {
  return new Lifecycle<ProcessorStatus>({
    component: "processor",
    coordinates: { group: "orders" },
    transitions: PROCESSOR_TRANSITIONS,
    ...(onChange ? { onChange } : {}),
  });
}

/** Every status reachable from `idle` through the table. */
function reachable<S extends string>(transitions: Transitions<S>): Set<S> {
  const seen = new Set<S>(["idle" as S]);
  for (const s of seen) for (const next of transitions[s]) seen.add(next);
  return seen;
}

describe("Lifecycle transitions", () => {
  test("starts idle; allowed moves change the status and tell onChange and observers", () => {
    const changes: string[] = [];
    const observed: string[] = [];
    const lifecycle = processorLifecycle((s) => changes.push(s));
    lifecycle.observe((s) => observed.push(s));
    expect(lifecycle.status).toBe("idle");
    lifecycle.moveTo("starting");
    lifecycle.moveTo("recovering");
    lifecycle.moveTo("running");
    lifecycle.moveTo("recovering");
    lifecycle.moveTo("running");
    lifecycle.moveTo("closing");
    lifecycle.moveTo("closed");
    const path = [
      "starting",
      "recovering",
      "running",
      "recovering",
      "running",
      "closing",
      "closed",
    ];
    expect(changes).toEqual(path);
    expect(observed).toEqual(path);
  });

  test("moving to the current status is no transition: nothing is told", () => {
    const changes: string[] = [];
    const lifecycle = processorLifecycle((s) => changes.push(s));
    lifecycle.moveTo("starting");
    lifecycle.moveTo("running");
    lifecycle.moveTo("running");
    expect(changes).toEqual(["starting", "running"]);
  });

  test("an illegal move throws TOKA_INVALID_STATE naming the component and both statuses", () => {
    const changes: string[] = [];
    const lifecycle = processorLifecycle((s) => changes.push(s));
    lifecycle.moveTo("starting");
    lifecycle.moveTo("closing");
    lifecycle.moveTo("closed");
    let error: unknown;
    try {
      lifecycle.moveTo("running");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokaError);
    expect(error).toMatchObject({
      code: TokaErrorCode.InvalidState,
      group: "orders",
      message: 'the processor cannot go from "closed" to "running" [group=orders]',
    });
    expect(lifecycle.status).toBe("closed");
    expect(changes).toEqual(["starting", "closing", "closed"]);
  });

  test("fail keeps the cause; a second failure, or one while closing, changes nothing", () => {
    const lifecycle = processorLifecycle();
    lifecycle.moveTo("starting");
    const first = new TokaError(TokaErrorCode.KafkaFailed, "first");
    expect(lifecycle.fail(first)).toBe(true);
    expect(lifecycle.status).toBe("failed");
    expect(lifecycle.failure).toBe(first);
    expect(lifecycle.fail(new TokaError(TokaErrorCode.KafkaFailed, "second"))).toBe(false);
    expect(lifecycle.failure).toBe(first);

    const closing = processorLifecycle();
    closing.moveTo("closing");
    expect(closing.fail(first)).toBe(false);
    expect(closing.status).toBe("closing");
    expect(closing.failure).toBeUndefined();
  });

  test("failing from a status the table does not let fail throws and keeps no failure", () => {
    const lifecycle = processorLifecycle();
    expect(() => lifecycle.fail(new TokaError(TokaErrorCode.KafkaFailed, "x"))).toThrow(
      'the processor cannot go from "idle" to "failed"',
    );
    expect(lifecycle.status).toBe("idle");
    expect(lifecycle.failure).toBeUndefined();
  });

  test("a table without a required status, or with an unknown target, is refused", () => {
    expect(
      () =>
        new Lifecycle({
          component: "thing",
          // A table of the wrong shape, as JavaScript could pass it.
          transitions: { idle: ["starting"], starting: ["closed"], closed: [] } as never,
        }),
    ).toThrow(`the thing's lifecycle has no "closing" status`);
    expect(
      () =>
        new Lifecycle<"idle" | "starting" | "closing" | "closed">({
          component: "thing",
          transitions: {
            idle: ["starting"],
            starting: ["closing"],
            closing: ["closed"],
            closed: ["gone" as "closed"],
          },
        }),
    ).toThrow(`moves from "closed" to "gone"`);
  });

  test("canReach follows the table", () => {
    const lifecycle = processorLifecycle();
    expect(lifecycle.canReach("running")).toBe(true);
    lifecycle.moveTo("starting");
    lifecycle.moveTo("running");
    expect(lifecycle.canReach("recovering")).toBe(true);
    expect(lifecycle.canReach("idle")).toBe(false);
    expect(lifecycle.canReach("starting")).toBe(false);
    lifecycle.moveTo("closing");
    expect(lifecycle.canReach("failed")).toBe(false);
  });

  const tables: [string, Transitions<string>][] = [
    ["processor", PROCESSOR_TRANSITIONS],
    ["view", VIEW_TRANSITIONS],
    ["emitter", EMITTER_TRANSITIONS],
  ];
  test.each(tables)(
    "property: any requested moves of the %s leave it in a status reachable by its table",
    (component, transitions) => {
      const statuses = Object.keys(transitions);
      const allowed = reachable(transitions);
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...statuses), { maxLength: 40 }), (requests) => {
          const lifecycle = new Lifecycle({ component, transitions });
          let previous = lifecycle.status;
          for (const next of requests) {
            const legal = next === previous || transitions[previous]!.includes(next);
            if (legal) lifecycle.moveTo(next);
            else expect(() => lifecycle.moveTo(next)).toThrow(TokaError);
            // A refused move leaves the status as it was.
            expect(lifecycle.status).toBe(legal ? next : previous);
            expect(allowed.has(lifecycle.status)).toBe(true);
            previous = lifecycle.status;
          }
        }),
        { seed: 20261204, numRuns: 500 },
      );
    },
  );

  test("every status of the three tables is reachable from idle and can end", () => {
    for (const [, transitions] of tables) {
      expect([...reachable(transitions)].sort()).toEqual(Object.keys(transitions).sort());
      for (const status of Object.keys(transitions)) {
        const lifecycle = new Lifecycle({ component: "x", transitions });
        // Walk to `status` along a shortest path, then check `closed` or `failed` is reachable.
        const path = shortestPath(transitions, "idle", status);
        for (const s of path) lifecycle.moveTo(s);
        expect(lifecycle.canReach("closed") || lifecycle.canReach("failed")).toBe(true);
      }
    }
  });
});

function shortestPath(transitions: Transitions<string>, from: string, to: string): string[] {
  const previous = new Map<string, string>();
  const queue = [from];
  for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
    if (s === to) break;
    for (const next of transitions[s]!) {
      if (next !== from && !previous.has(next)) {
        previous.set(next, s);
        queue.push(next);
      }
    }
  }
  const path: string[] = [];
  for (let s = to; s !== from; s = previous.get(s)!) path.unshift(s);
  return path;
}

describe("Lifecycle start and close", () => {
  test("start runs the work once from idle; later calls get the same promise", async () => {
    const lifecycle = processorLifecycle();
    let runs = 0;
    const work = async () => {
      runs++;
      lifecycle.moveTo("running");
    };
    const first = lifecycle.start(work);
    expect(lifecycle.status).toBe("running");
    expect(lifecycle.start(work)).toBe(first);
    await first;
    expect(runs).toBe(1);
  });

  test("start after close rejects TOKA_INVALID_STATE; after a failure, with the failure", async () => {
    const closed = processorLifecycle();
    await closed.close(async () => {});
    expect(closed.status).toBe("closed");
    const error = await rejection(closed.start(async () => {}));
    expect(error).toMatchObject({ code: TokaErrorCode.InvalidState, group: "orders" });
    expect(error.message).toContain("the processor is closed and cannot start");

    const failed = processorLifecycle();
    const failure = new TokaError(TokaErrorCode.TopicMissing, "no topic");
    const started = failed.start(async () => {
      failed.fail(failure);
      throw failure;
    });
    expect(await rejection(started)).toBe(failure);
    expect(await rejection(failed.start(async () => {}))).toBe(failure);
  });

  test("close runs shutdown once for concurrent calls, after the start in flight", async () => {
    const lifecycle = processorLifecycle();
    const steps: string[] = [];
    lifecycle.observe((s) => steps.push(s));
    let finishStart: () => void = () => {};
    void lifecycle.start(
      () =>
        new Promise<void>((resolve) => {
          finishStart = () => {
            lifecycle.moveTo("running");
            resolve();
          };
        }),
    );
    let shutdowns = 0;
    const shutdown = async () => {
      shutdowns++;
      steps.push("shutdown");
    };
    const closes = [lifecycle.close(shutdown), lifecycle.close(shutdown)];
    expect(closes[0]).toBe(closes[1]);
    await new Promise((r) => setImmediate(r));
    expect(lifecycle.status).toBe("starting");
    finishStart();
    await Promise.all(closes);
    expect(shutdowns).toBe(1);
    expect(steps).toEqual(["starting", "running", "closing", "shutdown", "closed"]);
    await lifecycle.close(shutdown);
    expect(shutdowns).toBe(1);
  });

  test("a failed component stays failed when closed", async () => {
    const lifecycle = processorLifecycle();
    lifecycle.moveTo("starting");
    lifecycle.fail(new TokaError(TokaErrorCode.KafkaFailed, "down"));
    let shutdowns = 0;
    await lifecycle.close(async () => {
      shutdowns++;
    });
    expect(lifecycle.status).toBe("failed");
    expect(shutdowns).toBe(0);
  });

  test("a shutdown that throws still ends closed, and close rejects with its error", async () => {
    const lifecycle = processorLifecycle();
    const broken = new Error("disconnect failed");
    const error = await rejection(
      lifecycle.close(async () => {
        throw broken;
      }),
    );
    expect(error).toBe(broken);
    expect(lifecycle.status).toBe("closed");
  });
});

describe("emitter and view tables", () => {
  test("an emitter whose connection failed goes back to idle, and cannot fail", () => {
    const lifecycle = new Lifecycle<EmitterStatus>({
      component: "emitter",
      transitions: EMITTER_TRANSITIONS,
    });
    lifecycle.moveTo("starting");
    lifecycle.moveTo("idle");
    lifecycle.moveTo("starting");
    lifecycle.moveTo("running");
    expect(() => lifecycle.fail(new TokaError(TokaErrorCode.KafkaFailed, "x"))).toThrow(
      'the emitter cannot go from "running" to "failed"',
    );
  });

  test("a view goes back from reconnecting to where it was; never back to recovering from running", () => {
    const lifecycle = new Lifecycle<ViewStatus>({
      component: "view",
      transitions: VIEW_TRANSITIONS,
    });
    lifecycle.moveTo("starting");
    lifecycle.moveTo("recovering");
    lifecycle.moveTo("reconnecting");
    lifecycle.moveTo("recovering");
    lifecycle.moveTo("running");
    lifecycle.moveTo("reconnecting");
    lifecycle.moveTo("running");
    expect(() => lifecycle.moveTo("recovering")).toThrow(
      'the view cannot go from "running" to "recovering"',
    );
  });
});
