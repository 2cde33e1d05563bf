import { jsonCodec } from "@toka/codec";
import { defineGroup, persist } from "@toka/processor";
import { z } from "zod";
import type { MessagingNames } from "./names.js";

/** A command to `block-user`: block (or unblock) the user of its key. */
export const BlockCommand = z.object({ block: z.boolean() });
export type BlockCommand = z.infer<typeof BlockCommand>;
export const blockCommandCodec = jsonCodec(BlockCommand);

/** Whether a user is blocked: the blocker's table value. */
export const BlockState = z.object({ blocked: z.boolean() });
export type BlockState = z.infer<typeof BlockState>;
export const blockStateCodec = jsonCodec(BlockState);

/**
 * The blocker: applies block commands to its table. Its table is keyed by user and has
 * the partition count of `block-user`, so the filter (keyed by sender, with `message-sent`
 * as input) can join it: both topics must have the same partition count.
 */
export function blocker(names: MessagingNames) {
  return defineGroup(names.blocker, {
    persist: persist(blockStateCodec),
    inputs: ({ input }) => [
      input(names.blockUser, blockCommandCodec, (ctx, command) => {
        ctx.setValue({ blocked: command.block });
      }),
    ],
  });
}
