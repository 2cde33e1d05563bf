import { type ErrorCoordinates, TokaError, TokaErrorCode } from "./errors.js";

/**
 * Every status of a component, each with the statuses it may move to. A status that
 * lists nothing is final.
 */
export type Transitions<S extends string> = { readonly [K in S]: readonly S[] };

/**
 * The statuses every lifecycle has, by these names; a component adds its own between
 * `starting` and `closing` (a processor's `recovering`, a view's `reconnecting`), and
 * `failed` when it can fail.
 *
 * ```
 * idle → starting → (the component's own statuses) → closing → closed
 * ```
 *
 * `idle` and `starting` may go straight to `closing` (a close before or during the
 * start); `failed` and `closed` are final.
 */
export const LifecycleStatus = {
  Idle: "idle",
  Starting: "starting",
  Closing: "closing",
  Closed: "closed",
  Failed: "failed",
} as const;

const REQUIRED = [
  LifecycleStatus.Idle,
  LifecycleStatus.Starting,
  LifecycleStatus.Closing,
  LifecycleStatus.Closed,
] as const;

/** What a {@link Lifecycle} is built from. */
export interface LifecycleSpec<S extends string> {
  /** The component's name in errors: `processor`, `view`, `emitter`. */
  readonly component: string;
  /** The Kafka coordinates of the component, set on every error it raises. */
  readonly coordinates?: ErrorCoordinates;
  /** Must contain `idle`, `starting`, `closing` and `closed`; `idle` is the first status. */
  readonly transitions: Transitions<S>;
  /** Called on every change, after the status changed (the component's `status` event). */
  readonly onChange?: (status: S) => void;
}

/**
 * The status machine of a long-lived component: its status, the transitions its table
 * allows, the failure that ended it, observers of its changes, and the serialized
 * `start()`/`close()` every component shares (abstract-level's status machine; Kafka
 * Streams' `Task.State`, whose states list their valid next states).
 *
 * Moving to the status the component already has is no transition and does nothing, so
 * a component may recompute its status (`running` or `recovering`) whenever it likes.
 */
export class Lifecycle<S extends string> {
  readonly component: string;
  readonly #coordinates: ErrorCoordinates;
  readonly #transitions: Transitions<S>;
  readonly #onChange: ((status: S) => void) | undefined;
  readonly #observers = new Set<(status: S) => void>();
  #status: S;
  #failure: TokaError | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  /** @throws TokaError `TOKA_INVALID_CONFIG` when the table lacks a required status. */
  constructor(spec: LifecycleSpec<S>) {
    this.component = spec.component;
    this.#coordinates = spec.coordinates ?? {};
    this.#transitions = spec.transitions;
    this.#onChange = spec.onChange;
    const statuses = new Set<string>(Object.keys(spec.transitions));
    for (const required of REQUIRED) {
      if (!statuses.has(required)) {
        throw new TokaError(
          TokaErrorCode.InvalidConfig,
          `the ${this.component}'s lifecycle has no "${required}" status`,
          this.#coordinates,
        );
      }
    }
    for (const [from, next] of Object.entries<readonly string[]>(spec.transitions)) {
      const unknown = next.find((to) => !statuses.has(to));
      if (unknown !== undefined) {
        throw new TokaError(
          TokaErrorCode.InvalidConfig,
          `the ${this.component}'s lifecycle moves from "${from}" to "${unknown}", which is not one of its statuses`,
          this.#coordinates,
        );
      }
    }
    this.#status = LifecycleStatus.Idle as S;
  }

  get status(): S {
    return this.#status;
  }

  /** The error the component failed with, once `failed`. */
  get failure(): TokaError | undefined {
    return this.#failure;
  }

  /** Closing, closed or failed: nothing new may begin. */
  get stopping(): boolean {
    return (
      this.#status === LifecycleStatus.Closing ||
      this.#status === LifecycleStatus.Closed ||
      this.#status === LifecycleStatus.Failed
    );
  }

  is(...statuses: readonly S[]): boolean {
    return statuses.includes(this.#status);
  }

  /** Whether the table allows moving from the current status to `next`. */
  canMoveTo(next: S): boolean {
    return this.#transitions[this.#status].includes(next);
  }

  /**
   * Moves to `next` and tells the observers; nothing when already there.
   * @throws TokaError `TOKA_INVALID_STATE` when the table does not allow the move: a bug
   * of the component, named with both statuses.
   */
  moveTo(next: S): void {
    if (next === this.#status) return;
    if (!this.canMoveTo(next)) throw this.#refused(next);
    this.#status = next;
    this.#onChange?.(next);
    for (const observer of [...this.#observers]) observer(next);
  }

  /**
   * Records `error` as the failure and moves to `failed`. Returns false, doing nothing,
   * when the component is already stopping: an error raised while it closes, or after
   * it failed, ends nothing more.
   * @throws TokaError `TOKA_INVALID_STATE` when the table has no way to `failed` from here.
   */
  fail(error: TokaError): boolean {
    if (this.stopping) return false;
    // Checked before the failure is kept, so that a refused move leaves none behind.
    if (!this.canMoveTo(LifecycleStatus.Failed as S))
      throw this.#refused(LifecycleStatus.Failed as S);
    this.#failure = error;
    this.moveTo(LifecycleStatus.Failed as S);
    return true;
  }

  /** Calls `observer` with every new status until the returned function is called. */
  observe(observer: (status: S) => void): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /**
   * Whether `target` can still be reached from the current status through the table
   * (the current status counts).
   */
  canReach(target: S): boolean {
    const seen = new Set<S>([this.#status]);
    const queue: S[] = [this.#status];
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      if (s === target) return true;
      for (const next of this.#transitions[s]) {
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    return false;
  }

  /**
   * The component's `start()`: from `idle`, moves to `starting` and runs `work` (which
   * moves on from `starting` itself); later calls get the same promise. After a failure
   * it rejects with the failure; once closing or closed, with `TOKA_INVALID_STATE`.
   */
  start(work: () => Promise<void>): Promise<void> {
    if (this.#status === LifecycleStatus.Idle) {
      this.moveTo(LifecycleStatus.Starting as S);
      this.#starting = work();
      // The caller of start() sees the rejection; nobody else must have to.
      this.#starting.catch(() => {});
      return this.#starting;
    }
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.stopping || !this.#starting) {
      return Promise.reject(
        this.invalidState(
          `the ${this.component} is ${this.#status} and cannot start; create a new one`,
        ),
      );
    }
    return this.#starting;
  }

  /**
   * The component's `close()`, run once however often it is called: waits for `settle`
   * (by default the start in flight, whatever its outcome), then, unless the component
   * failed meanwhile, moves to `closing`, runs `shutdown` and moves to `closed` (also when
   * `shutdown` throws, which the callers then see). A failed component stays `failed`.
   */
  close(
    shutdown: () => Promise<void>,
    settle: Promise<unknown> | undefined = this.#starting,
  ): Promise<void> {
    if (this.#status === LifecycleStatus.Failed) return Promise.resolve();
    // With nothing to wait for, `closing` is reached before close() returns: what the
    // caller does next (an emit) already sees it.
    this.#closing ??= settle
      ? settle.catch(() => {}).then(() => this.#shutDown(shutdown))
      : this.#shutDown(shutdown);
    return this.#closing;
  }

  async #shutDown(shutdown: () => Promise<void>): Promise<void> {
    if (this.#status === LifecycleStatus.Failed) return;
    this.moveTo(LifecycleStatus.Closing as S);
    try {
      await shutdown();
    } finally {
      this.moveTo(LifecycleStatus.Closed as S);
    }
  }

  #refused(next: S): TokaError {
    return this.invalidState(`the ${this.component} cannot go from "${this.#status}" to "${next}"`);
  }

  /** A `TOKA_INVALID_STATE` error of this component, with its coordinates. */
  invalidState(message: string): TokaError {
    return new TokaError(TokaErrorCode.InvalidState, message, this.#coordinates);
  }

  /** A `TOKA_TIMEOUT` error of this component, with its coordinates. */
  timeout(message: string): TokaError {
    return new TokaError(TokaErrorCode.Timeout, message, this.#coordinates);
  }
}
