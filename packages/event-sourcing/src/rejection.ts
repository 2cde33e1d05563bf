import { jsonCodec } from "@toka/codec";
import { z } from "zod";

/** Codes of the rejections toka itself makes; `decide` may use any other code. */
export const RejectionCode = {
  /** The command's expected version is not the aggregate's version. */
  VersionConflict: "version-conflict",
  /** `decide` rejected the command without a code of its own. */
  Rejected: "rejected",
} as const;
export type RejectionCode = (typeof RejectionCode)[keyof typeof RejectionCode];

/** What `decide` returns to reject a command; make it with {@link reject}. */
export interface Rejection {
  readonly kind: "rejection";
  /** Why, for people: e.g. `insufficient funds: balance 5, withdrawal 7`. */
  readonly reason: string;
  /** Why, for programs: e.g. `insufficient-funds`. Default `rejected`. */
  readonly code: string;
}

/**
 * Rejects a command: `decide` returns `reject("insufficient funds", "insufficient-funds")`.
 * The aggregate then writes a {@link RejectionRecord} and changes nothing.
 */
export function reject(reason: string, code: string = RejectionCode.Rejected): Rejection {
  return { kind: "rejection", reason, code };
}

/** True for a value made by {@link reject}. */
export function isRejection(value: unknown): value is Rejection {
  return typeof value === "object" && value !== null && (value as Rejection).kind === "rejection";
}

/** The schema of a record in `<aggregate>-rejections` (JSON, keyed by aggregate ID). */
export const RejectionRecord = z.object({
  /** The `toka-id` of the rejected command. */
  commandId: z.string(),
  reason: z.string(),
  code: z.string(),
  /** The aggregate's version when the command was decided. */
  version: z.number().int().nonnegative(),
  /** The version the command expected, if it named one. */
  expectedVersion: z.number().int().nonnegative().optional(),
});
/** A record in `<aggregate>-rejections`. */
export type RejectionRecord = z.infer<typeof RejectionRecord>;

/** The codec of `<aggregate>-rejections`. */
export const rejectionCodec = jsonCodec(RejectionRecord, { name: "json(RejectionRecord)" });
