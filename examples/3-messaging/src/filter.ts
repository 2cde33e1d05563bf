import { stringCodec } from "@toka/codec";
import { defineGroup, join, lookup, output, tableTopic } from "@toka/processor";
import { blockStateCodec } from "./blocker.js";
import { messageCodec } from "./message.js";
import type { MessagingNames } from "./names.js";

/**
 * Replaces every word (split at spaces) that has a translation; `translationOf` is
 * asynchronous because it reads another group's table.
 */
export async function translate(
  content: string,
  translationOf: (word: string) => Promise<string | undefined>,
): Promise<string> {
  const words = content.split(" ");
  const translated = await Promise.all(words.map(async (w) => (await translationOf(w)) ?? w));
  return translated.join(" ");
}

/**
 * The filter, a stateless router: consumes `message-sent` (keyed by sender), drops the
 * messages of blocked senders, translates the rest and emits them to
 * `message-received`, re-keyed by recipient.
 *
 * - The blocker's table is **joined**: it is keyed by user like `message-sent`, and both
 *   have the same partition count, so partition p of it is on this instance (a local
 *   read, no network).
 * - The translator's table is **looked up**: it is keyed by word, so any instance needs
 *   all of it; the processor keeps a view of it.
 */
export function filter(names: MessagingNames) {
  const blockerTable = tableTopic(names.blocker);
  const translatorTable = tableTopic(names.translator);
  return defineGroup(names.filter, {
    joins: [join(blockerTable, blockStateCodec)],
    lookups: [lookup(translatorTable, stringCodec)],
    outputs: [output(names.received, messageCodec)],
    inputs: ({ input }) => [
      input(names.sent, messageCodec, async (ctx, message) => {
        if (ctx.join(blockerTable)?.blocked) return;
        const content = await translate(message.content, (word) =>
          ctx.lookup(translatorTable, word),
        );
        ctx.emit(names.received, message.to, { ...message, content });
      }),
    ],
  });
}
