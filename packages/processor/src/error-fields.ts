/** How deep a cause chain is followed: deeper causes are cut off. */
const MAX_CAUSES = 6;

/** An error as plain, loggable fields: what it is, where, and the chain of causes. */
export interface ErrorFields {
  readonly name: string;
  readonly message: string;
  /** toka's or Kafka's error code, or the system's (`ECONNREFUSED`). */
  readonly code?: string | number;
  /** kafkajs's name of a Kafka protocol error (`NOT_LEADER_OR_FOLLOWER`). */
  readonly type?: string;
  readonly retriable?: boolean;
  readonly group?: string;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
  readonly key?: string;
  /** The broker an error of a connection concerns (`host:port`). */
  readonly broker?: string;
  readonly cause?: ErrorFields | string;
}

const COPIED = [
  "code",
  "type",
  "retriable",
  "group",
  "topic",
  "partition",
  "offset",
  "key",
] as const;

/**
 * The fields of an error worth logging, its cause chain included: a `JSON.stringify` of
 * an Error keeps none of them, and "the processor could not start" says nothing without
 * the ECONNREFUSED and broker address below it. For logger adapters (pino, winston).
 */
export function errorFields(error: unknown, depth = 0): ErrorFields | string {
  if (!(error instanceof Error)) return String(error);
  const source = error as Error & Record<string, unknown>;
  const fields: Record<string, unknown> = { name: error.name, message: error.message };
  for (const name of COPIED) {
    const value = source[name];
    if (value !== undefined && value !== null && typeof value !== "object") fields[name] = value;
  }
  const broker =
    typeof source.broker === "string"
      ? source.broker
      : typeof source.address === "string" && typeof source.port === "number"
        ? `${source.address}:${source.port}`
        : undefined;
  if (broker !== undefined) fields.broker = broker;
  if (error.cause !== undefined && depth < MAX_CAUSES) {
    fields.cause = errorFields(error.cause, depth + 1);
  }
  return fields as unknown as ErrorFields;
}
