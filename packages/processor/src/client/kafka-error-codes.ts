/**
 * The Kafka error codes toka meets, with what a caller does about each: whether the same
 * request may succeed when sent again, and what kind of failure it is. Codes and names
 * are Kafka's (the protocol guide's "Error Codes", `org.apache.kafka.common.protocol.Errors`).
 * Every toka component that reads an error code from an answer, or a kafkajs error's
 * `type`, decides with this table; messages name a code as `NAME (code)`
 * ({@link describeKafkaError}).
 */

/** What kind of failure an error code reports, and so what clears it. */
export const KafkaErrorKind = {
  /**
   * The partition's leader moved, is being elected, or the broker does not know the
   * partition yet: the same request to the leader named by fresh metadata passes.
   */
  LeaderMoved: "leader-moved",
  /** The group coordinator moved, is loading the group or is not there yet: look it up again. */
  CoordinatorMoved: "coordinator-moved",
  /** The client's principal lacks an ACL: no retry helps; the message says which ACL. */
  Authorization: "authorization",
  /** The member's partitions are being, or were, given out again: it has to rejoin. */
  MembershipLost: "membership-lost",
  /** The broker lost track of the producer's sequence numbers: only a new producer goes on. */
  ProducerState: "producer-state",
  /** A newer producer with the same transactional id exists: this one is done. */
  ProducerFenced: "producer-fenced",
  /** The request itself is refused (too large, invalid): sent again, it meets the same answer. */
  Refused: "refused",
  /** Anything else: `retriable` says whether it passes. */
  Other: "other",
} as const;
export type KafkaErrorKind = (typeof KafkaErrorKind)[keyof typeof KafkaErrorKind];

/** One row of the table. */
export interface KafkaErrorInfo {
  readonly code: number;
  /** Kafka's name; kafkajs's error `type` for every code toka matches by name. */
  readonly name: string;
  /** Whether the same request, sent again (after fresh metadata), may succeed. */
  readonly retriable: boolean;
  readonly kind: KafkaErrorKind;
  /** For an authorization failure: what it denies access to. */
  readonly denies?: "topic" | "group" | "cluster" | "transactional ID";
}

const { LeaderMoved, CoordinatorMoved, Authorization, MembershipLost, Other } = KafkaErrorKind;
const { ProducerState, ProducerFenced, Refused } = KafkaErrorKind;

// biome-ignore format: one row per code reads as the table it is
const KAFKA_ERRORS = [
  { code: -1, name: "UNKNOWN_SERVER_ERROR", retriable: false, kind: Other },
  // A fetch outside the log: deleted by retention, or past the end.
  { code: 1, name: "OFFSET_OUT_OF_RANGE", retriable: false, kind: Other },
  // Retriable for Kafka and kafkajs, but the same records meet it again: toka gives up.
  { code: 2, name: "CORRUPT_MESSAGE", retriable: false, kind: Refused },
  // The topic's metadata has not reached this broker yet (or the topic does not exist).
  { code: 3, name: "UNKNOWN_TOPIC_OR_PARTITION", retriable: true, kind: LeaderMoved },
  { code: 5, name: "LEADER_NOT_AVAILABLE", retriable: true, kind: LeaderMoved },
  { code: 6, name: "NOT_LEADER_OR_FOLLOWER", retriable: true, kind: LeaderMoved },
  // The request outlived its timeout while a broker failed over.
  { code: 7, name: "REQUEST_TIMED_OUT", retriable: true, kind: Other },
  { code: 9, name: "REPLICA_NOT_AVAILABLE", retriable: true, kind: LeaderMoved },
  { code: 10, name: "MESSAGE_TOO_LARGE", retriable: false, kind: Refused },
  { code: 13, name: "NETWORK_EXCEPTION", retriable: true, kind: Other },
  { code: 14, name: "COORDINATOR_LOAD_IN_PROGRESS", retriable: true, kind: CoordinatorMoved },
  { code: 15, name: "COORDINATOR_NOT_AVAILABLE", retriable: true, kind: CoordinatorMoved },
  { code: 16, name: "NOT_COORDINATOR", retriable: true, kind: CoordinatorMoved },
  { code: 17, name: "INVALID_TOPIC_EXCEPTION", retriable: false, kind: Refused },
  { code: 18, name: "RECORD_LIST_TOO_LARGE", retriable: false, kind: Refused },
  // Too few in-sync replicas for a moment (acks=all, min.insync.replicas).
  { code: 19, name: "NOT_ENOUGH_REPLICAS", retriable: true, kind: Other },
  { code: 20, name: "NOT_ENOUGH_REPLICAS_AFTER_APPEND", retriable: true, kind: Other },
  { code: 21, name: "INVALID_REQUIRED_ACKS", retriable: false, kind: Refused },
  { code: 22, name: "ILLEGAL_GENERATION", retriable: false, kind: MembershipLost },
  { code: 25, name: "UNKNOWN_MEMBER_ID", retriable: false, kind: MembershipLost },
  { code: 27, name: "REBALANCE_IN_PROGRESS", retriable: false, kind: MembershipLost },
  { code: 29, name: "TOPIC_AUTHORIZATION_FAILED", retriable: false, kind: Authorization, denies: "topic" },
  { code: 30, name: "GROUP_AUTHORIZATION_FAILED", retriable: false, kind: Authorization, denies: "group" },
  { code: 31, name: "CLUSTER_AUTHORIZATION_FAILED", retriable: false, kind: Authorization, denies: "cluster" },
  { code: 33, name: "UNSUPPORTED_SASL_MECHANISM", retriable: false, kind: Other },
  // What a listener without SASL (PLAINTEXT, SSL) answers a SaslHandshake with.
  { code: 34, name: "ILLEGAL_SASL_STATE", retriable: false, kind: Other },
  { code: 35, name: "UNSUPPORTED_VERSION", retriable: false, kind: Refused },
  { code: 45, name: "OUT_OF_ORDER_SEQUENCE_NUMBER", retriable: false, kind: ProducerState },
  { code: 47, name: "INVALID_PRODUCER_EPOCH", retriable: false, kind: ProducerFenced },
  { code: 48, name: "INVALID_TXN_STATE", retriable: false, kind: ProducerState },
  { code: 49, name: "INVALID_PRODUCER_ID_MAPPING", retriable: false, kind: ProducerState },
  { code: 53, name: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", retriable: false, kind: Authorization, denies: "transactional ID" },
  // The replica's disk failed; another replica takes over.
  { code: 56, name: "KAFKA_STORAGE_ERROR", retriable: true, kind: LeaderMoved },
  { code: 58, name: "SASL_AUTHENTICATION_FAILED", retriable: false, kind: Other },
  { code: 59, name: "UNKNOWN_PRODUCER_ID", retriable: false, kind: ProducerState },
  { code: 74, name: "FENCED_LEADER_EPOCH", retriable: true, kind: LeaderMoved },
  { code: 75, name: "UNKNOWN_LEADER_EPOCH", retriable: true, kind: LeaderMoved },
  // A new leader is still catching up with the old one's high watermark.
  { code: 78, name: "OFFSET_NOT_AVAILABLE", retriable: true, kind: LeaderMoved },
  { code: 82, name: "FENCED_INSTANCE_ID", retriable: false, kind: MembershipLost },
  { code: 87, name: "INVALID_RECORD", retriable: false, kind: Refused },
  // kafkajs 2.2.4 does not know this code (it reports KAFKAJS_UNKNOWN_ERROR_CODE).
  { code: 90, name: "PRODUCER_FENCED", retriable: false, kind: ProducerFenced },
] as const satisfies readonly KafkaErrorInfo[];

/** The name of a Kafka error code in the table. */
export type KafkaErrorName = (typeof KAFKA_ERRORS)[number]["name"];

const BY_CODE = new Map<number, KafkaErrorInfo>(KAFKA_ERRORS.map((e) => [e.code, e]));
const BY_NAME = new Map<string, KafkaErrorInfo>(KAFKA_ERRORS.map((e) => [e.name, e]));

/** The table's row of an error code; `undefined` for 0 and for codes toka does not know. */
export function kafkaError(code: number): KafkaErrorInfo | undefined {
  return BY_CODE.get(code);
}

/** The table's row of an error by its Kafka name (a kafkajs error's `type`). */
export function kafkaErrorNamed(name: string): KafkaErrorInfo | undefined {
  return BY_NAME.get(name);
}

/** The code of a named Kafka error. */
export function kafkaErrorCode(name: KafkaErrorName): number {
  return BY_NAME.get(name)!.code;
}

/**
 * An error code as messages show it: `NOT_LEADER_OR_FOLLOWER (6)`, or `Kafka error code
 * 99` for a code the table lacks.
 */
export function describeKafkaError(code: number): string {
  const known = BY_CODE.get(code);
  return known ? `${known.name} (${code})` : `Kafka error code ${code}`;
}

/** Whether the same request may succeed when sent again; `false` for unknown codes. */
export function isRetriableKafkaError(code: number): boolean {
  return BY_CODE.get(code)?.retriable ?? false;
}

/** Whether a code is of one of `kinds`. */
export function isKafkaErrorKind(code: number, ...kinds: KafkaErrorKind[]): boolean {
  const kind = BY_CODE.get(code)?.kind;
  return kind !== undefined && kinds.includes(kind);
}

/** The names of the errors of `kinds`: what kafkajs errors' `type` is matched against. */
export function kafkaErrorNames(...kinds: KafkaErrorKind[]): ReadonlySet<string> {
  return new Set(KAFKA_ERRORS.filter((e) => kinds.includes(e.kind)).map((e) => e.name));
}

/**
 * Whether `error`, or an error in its `cause` chain, is a kafkajs protocol error whose
 * `type` is one of `kinds`.
 */
export function hasKafkaErrorKind(error: unknown, ...kinds: KafkaErrorKind[]): boolean {
  for (
    let e = error as { type?: unknown; cause?: unknown } | undefined;
    e;
    e = e.cause as typeof e
  ) {
    const kind = typeof e.type === "string" ? BY_NAME.get(e.type)?.kind : undefined;
    if (kind !== undefined && kinds.includes(kind)) return true;
  }
  return false;
}
