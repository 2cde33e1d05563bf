import { jsonCodec, stringCodec } from "@toka/codec";
import {
  defineGroup,
  Emitter,
  type Logger,
  Processor,
  persist,
  silentLogger,
  View,
} from "@toka/processor";
import { kafkajsClient } from "@toka/processor/kafka";
import { z } from "zod";

/** A user's click count: the value the group keeps per user. */
export const ClickCount = z.object({ clicks: z.number().int() });
export type ClickCount = z.infer<typeof ClickCount>;

/** The counting group: one callback per click, one table value per user. */
export function clickCounter(group: string, clicksTopic: string) {
  return defineGroup(group, {
    persist: persist(jsonCodec(ClickCount)),
    inputs: ({ input }) => [
      input(clicksTopic, stringCodec, (ctx) => {
        const current = ctx.value() ?? { clicks: 0 };
        ctx.setValue({ clicks: current.clicks + 1 });
      }),
    ],
  });
}

/** Settings of one run of the example. */
export interface ExampleSettings {
  readonly brokers: readonly string[];
  /** The input topic. */
  readonly topic: string;
  /** The group (its table is `<group>-table`). */
  readonly group: string;
  /** Clicks to emit per user. */
  readonly clicks: Readonly<Record<string, number>>;
  readonly logger?: Logger;
}

/**
 * Emitter → counting processor → view: emits the clicks, lets the processor count them
 * per user, and reads the counts back through a view once they arrived.
 */
export async function runExample(settings: ExampleSettings): Promise<Record<string, number>> {
  const { brokers, topic, group } = settings;
  const logger = settings.logger ?? silentLogger;

  // The input topic must exist; the processor creates its own table topic.
  const admin = kafkajsClient({ brokers, clientId: "example-1-admin", logger }).admin();
  await admin.connect();
  await admin.createTopics([{ topic, partitions: 4, compacted: false }]);
  await admin.disconnect();

  await using processor = new Processor(clickCounter(group, topic), { brokers, logger });
  await processor.start();

  await using emitter = new Emitter({ brokers, topic, codec: stringCodec, logger });
  const before = await currentCounts(brokers, group, Object.keys(settings.clicks), logger);
  const sends: Promise<void>[] = [];
  for (const [user, clicks] of Object.entries(settings.clicks)) {
    for (let i = 0; i < clicks; i++) sends.push(emitter.emit(user, `click ${i}`));
  }
  await Promise.all(sends);

  await using view = new View({
    brokers,
    table: `${group}-table`,
    codec: jsonCodec(ClickCount),
    logger,
  });
  await view.start();
  const counts: Record<string, number> = {};
  for (const [user, clicks] of Object.entries(settings.clicks)) {
    // Views are eventually consistent: wait until the user's new clicks are counted.
    const expected = (before[user] ?? 0) + clicks;
    const value = await view.waitForKey(user, (v) => (v?.clicks ?? 0) >= expected, {
      timeoutMs: 60_000,
    });
    counts[user] = value?.clicks ?? 0;
  }
  return counts;
}

/** The counts already in the table (the example may run again on the same broker). */
async function currentCounts(
  brokers: readonly string[],
  group: string,
  users: string[],
  logger: Logger,
) {
  await using view = new View({
    brokers,
    table: `${group}-table`,
    codec: jsonCodec(ClickCount),
    logger,
  });
  await view.start();
  const counts: Record<string, number> = {};
  for (const user of users) counts[user] = (await view.get(user))?.clicks ?? 0;
  return counts;
}
