import { TokaError, TokaErrorCode } from "@toka/processor";
import {
  type GroupMember,
  type InMemoryBroker,
  type PreparedBatch,
  tpKey,
} from "./in-memory-broker.js";

/** Settings of the {@link DeliveryLoop}. */
export interface DeliveryLoopSettings {
  /** How long one `onBatch` may take before it counts as hanging. */
  readonly deliveryTimeoutMs: number;
  /** Most deliveries in a row without a pause; guards against endless loops. */
  readonly maxDeliveries: number;
}

/** Macrotask turns `settle` takes at most before it gives up waiting for calm. */
const MAX_SETTLE_TURNS = 100;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The only thing that hands batches to consumers: one batch at a time, in a fixed
 * round-robin order, so a run is the same every time. Between two deliveries it lets
 * pending promise chains run (a processor's assignment work, an emitter's flush) until
 * the broker sees no more changes. A handler that rejects or outlives the delivery
 * timeout crashes its consumer (`onCrash`) and the error is kept for
 * {@link DeliveryLoop.takeError}.
 */
export class DeliveryLoop {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly errors: unknown[] = [];
  private deliveries = 0;
  /** Deliveries given up on because their handler outlived the timeout. */
  abandoned = 0;

  constructor(
    private readonly broker: InMemoryBroker,
    private readonly settings: DeliveryLoopSettings,
  ) {}

  /** Starts the loop unless it runs; a running loop looks again before it stops. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pump();
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
  }

  /** Resolves when the loop has nothing more to deliver. */
  async drained(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops delivering for good (the tester closed). */
  stop(): void {
    this.stopped = true;
  }

  /** The oldest error not reported yet (and how many more there are), once. */
  takeError(): { error: unknown; more: number } | undefined {
    if (this.errors.length === 0) return undefined;
    const error = this.errors[0];
    const more = this.errors.length - 1;
    this.errors.length = 0;
    return { error, more };
  }

  /** Resets the guard against endless loops (an `idle()` started). */
  resetDeliveryCount(): void {
    this.deliveries = 0;
  }

  /** Lets pending promise chains run until a whole turn passes without a broker change. */
  async settle(): Promise<void> {
    for (let turn = 0; turn < MAX_SETTLE_TURNS; turn++) {
      const before = this.broker.changes;
      await nextTurn();
      if (turn > 0 && this.broker.changes === before) return;
    }
  }

  private async pump(): Promise<void> {
    for (;;) {
      await this.settle();
      if (this.stopped) return;
      if (this.broker.hasPendingRebalance()) {
        for (const { member, error } of this.broker.rebalance()) this.crash(member, error);
        continue;
      }
      const next = this.broker.nextBatch();
      if (!next) return;
      this.deliveries += 1;
      if (this.deliveries > this.settings.maxDeliveries) {
        this.errors.push(
          new TokaError(
            TokaErrorCode.Timeout,
            `the tester delivered ${this.settings.maxDeliveries} batches without becoming idle; do callbacks feed each other forever (a loopback or two groups emitting to each other)? Raise maxDeliveries if the work is really that large`,
            { group: next.member.groupId, topic: next.tp.topic, partition: next.tp.partition },
          ),
        );
        return;
      }
      await this.deliver(next);
    }
  }

  private async deliver(prepared: PreparedBatch): Promise<void> {
    const { member, tp, batch, lastOffset } = prepared;
    const handlers = member.handlers!;
    const key = tpKey(tp.topic, tp.partition);
    if (!batch) {
      // Only transaction markers or aborted records: kafkajs moves past them without
      // calling eachBatch, but still reports the batch's end.
      member.positions.set(key, lastOffset + 1);
      this.batchDone(prepared);
      return;
    }
    const changesAtStart = this.broker.changes;
    const outcome = await this.runHandler(member, prepared, handlers.onBatch.bind(handlers));
    if (outcome === "crashed") return;
    if (outcome) member.positions.set(key, lastOffset + 1);
    else member.refused.set(key, changesAtStart);
    this.batchDone(prepared);
  }

  /** Runs `onBatch` with the delivery timeout; on rejection or timeout, crashes the member. */
  private async runHandler(
    member: GroupMember,
    prepared: PreparedBatch,
    onBatch: NonNullable<GroupMember["handlers"]>["onBatch"],
  ): Promise<boolean | "crashed"> {
    const batch = prepared.batch!;
    const handled = Promise.resolve().then(() => onBatch(batch));
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // `done` also settles when the delivery is given up on, so nobody waits for a hang.
    const inFlight = {
      done: Promise.race([
        handled.then(
          () => {},
          () => {},
        ),
        released,
      ]),
      abandoned: false,
    };
    member.inFlight = inFlight;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.settings.deliveryTimeoutMs);
    });
    const outcome = await Promise.race([
      handled.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      timedOut,
    ]);
    clearTimeout(timer);
    member.inFlight = undefined;
    if (outcome === "timeout") {
      inFlight.abandoned = true;
      this.abandoned += 1;
      release();
      this.crash(member, this.hangError(prepared));
      return "crashed";
    }
    if ("error" in outcome) {
      this.crash(member, outcome.error);
      return "crashed";
    }
    return outcome.value === true;
  }

  private batchDone({ member, tp, lastOffset, highWatermark }: PreparedBatch) {
    try {
      member.handlers?.onBatchDone?.(tp, String(lastOffset), String(highWatermark));
    } catch (error) {
      this.crash(member, error);
    }
  }

  /** Stops a member for good: it leaves its group, hears `onCrash`, the error is kept. */
  private crash(member: GroupMember, error: unknown) {
    this.errors.push(error);
    member.state = "stopped";
    this.broker.leave(member);
    try {
      member.handlers?.onCrash(error);
    } catch {
      // The consumer is gone either way; the first error is the one reported.
    }
  }

  private hangError({ member, tp, batch }: PreparedBatch): TokaError {
    const first = batch!.records[0]!;
    const key = first.key === null ? undefined : new TextDecoder().decode(first.key);
    return new TokaError(
      TokaErrorCode.Timeout,
      `a batch of ${batch!.records.length} record(s) was not handled within ${this.settings.deliveryTimeoutMs} ms: a callback hangs (an await that never settles?) or is too slow for deliveryTimeoutMs`,
      {
        group: member.groupId,
        topic: tp.topic,
        partition: tp.partition,
        offset: first.offset,
        key,
      },
    );
  }
}
