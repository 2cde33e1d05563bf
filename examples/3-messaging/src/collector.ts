import { jsonCodec } from "@toka/codec";
import { defineGroup, persist } from "@toka/processor";
import { z } from "zod";
import { Message, messageCodec } from "./message.js";
import type { MessagingNames } from "./names.js";

/** A user's inbox: their last messages, oldest first. */
export const Inbox = z.array(Message);
export type Inbox = z.infer<typeof Inbox>;
export const inboxCodec = jsonCodec(Inbox);

/** Messages an inbox keeps by default. */
export const DEFAULT_INBOX_SIZE = 5;

/**
 * The collector: consumes delivered messages (keyed by recipient) and keeps the last
 * `inboxSize` of each recipient in its table, which is the inbox the service serves.
 */
export function collector(names: MessagingNames, inboxSize = DEFAULT_INBOX_SIZE) {
  return defineGroup(names.collector, {
    persist: persist(inboxCodec),
    inputs: ({ input }) => [
      input(names.received, messageCodec, (ctx, message) => {
        ctx.setValue([...(ctx.value() ?? []), message].slice(-inboxSize));
      }),
    ],
  });
}
