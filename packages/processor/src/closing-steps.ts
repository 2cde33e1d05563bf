import type { Clock } from "./clock.js";
import type { LogFields, Logger } from "./logger.js";

/** How long a step of a close may take before the log says what the close waits for. */
export const SLOW_CLOSING_STEP_MS = 5_000;

/**
 * The steps of a close, run one after another. A close that hangs is otherwise silent:
 * while a step takes longer than `slowAfterMs` a warning names it (again every
 * `slowAfterMs`), so that a process that does not exit shows what it waits for.
 */
export class ClosingSteps {
  constructor(
    private readonly logger: Logger,
    private readonly fields: LogFields,
    private readonly clock: Clock,
    private readonly slowAfterMs = SLOW_CLOSING_STEP_MS,
  ) {}

  /** Runs `work` as the step `name`; its failure is logged at debug level and ignored. */
  async run(name: string, work: () => Promise<unknown>): Promise<void> {
    const started = this.clock.now();
    let cancel = () => {};
    const warnLater = () => {
      cancel = this.clock.schedule(this.slowAfterMs, () => {
        this.logger.warn("the close is still waiting", {
          ...this.fields,
          step: name,
          waitedMs: this.clock.now() - started,
        });
        warnLater();
      });
    };
    warnLater();
    try {
      await work();
    } catch (error) {
      this.logger.debug("a step of the close failed", { ...this.fields, step: name, error });
    } finally {
      cancel();
    }
  }
}
