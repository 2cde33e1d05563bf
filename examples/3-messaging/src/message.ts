import { jsonCodec } from "@toka/codec";
import { z } from "zod";

/** A chat message. */
export const Message = z.object({
  from: z.string().min(1),
  to: z.string().min(1),
  content: z.string(),
});
export type Message = z.infer<typeof Message>;

/** The codec of `message-sent` and `message-received` (and the detector's loop). */
export const messageCodec = jsonCodec(Message);
