import { jsonCodec } from "@toka/codec";
import { defineGroup, loop, output, persist } from "@toka/processor";
import { z } from "zod";
import { blockCommandCodec } from "./blocker.js";
import { messageCodec } from "./message.js";
import type { MessagingNames } from "./names.js";

/** What the detector keeps per user. */
export const Counters = z.object({
  sent: z.number().int().nonnegative(),
  received: z.number().int().nonnegative(),
  /** A block command was sent for the user: it is sent once. */
  reported: z.boolean(),
});
export type Counters = z.infer<typeof Counters>;
export const countersCodec = jsonCodec(Counters);

/** When a user counts as a spammer. */
export interface SpamRule {
  /** Messages (sent and received) a user needs before the rule judges them. */
  readonly minMessages: number;
  /** The share of sent messages among them from which on the user is a spammer. */
  readonly sentRatio: number;
}

/**
 * The default rule: at least 20 messages, of which 80 % or more sent. Normal users of
 * the load generator send about as much as they receive; its spammer only sends.
 */
export const DEFAULT_SPAM_RULE: SpamRule = { minMessages: 20, sentRatio: 0.8 };

/** Whether `counters` make a spammer under `rule`. */
export function isSpammer(counters: Counters, rule: SpamRule): boolean {
  const total = counters.sent + counters.received;
  return total >= rule.minMessages && counters.sent / total >= rule.sentRatio;
}

/**
 * Counts one message of a user; says whether the user must be blocked now (the first
 * time the rule holds).
 */
export function countMessage(
  counters: Counters | undefined,
  direction: "sent" | "received",
  rule: SpamRule,
): { counters: Counters; block: boolean } {
  const next = { sent: 0, received: 0, reported: false, ...counters };
  next[direction] += 1;
  const block = !next.reported && isSpammer(next, rule);
  if (block) next.reported = true;
  return { counters: next, block };
}

/**
 * The spam detector. It consumes the delivered messages, keyed by recipient, and counts
 * what each user received. The sender's count lives under the sender's key, which may
 * be on another partition: the **loopback** re-keys the message to its sender, and the
 * loop callback counts it there. A user found to be a spammer gets a block command on
 * `block-user`, which the blocker applies and the filter then sees.
 *
 * Counting delivered (not sent) messages means a blocked spammer stops counting, and
 * the message that crosses the threshold has been delivered already.
 */
export function detector(names: MessagingNames, rule: SpamRule = DEFAULT_SPAM_RULE) {
  return defineGroup(names.detector, {
    persist: persist(countersCodec),
    outputs: [output(names.blockUser, blockCommandCodec)],
    loop: loop(messageCodec),
    inputs: ({ input, loop }) => [
      input(names.received, messageCodec, (ctx, message) => {
        const { counters, block } = countMessage(ctx.value(), "received", rule);
        ctx.setValue(counters);
        if (block) ctx.emit(names.blockUser, ctx.key, { block: true });
        ctx.loopback(message.from, message);
      }),
      loop((ctx) => {
        const { counters, block } = countMessage(ctx.value(), "sent", rule);
        ctx.setValue(counters);
        if (block) ctx.emit(names.blockUser, ctx.key, { block: true });
      }),
    ],
  });
}
