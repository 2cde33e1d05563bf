import { rootMessage, TokaError, TokaErrorCode } from "../errors.js";
import { isRetriable, retrying } from "../retry.js";
import { type BrokerAddress, BrokerConnection, type LeaderLookup } from "./broker-connection.js";
import {
  decodeFetchResponse,
  encodeFetchRequest,
  FETCH_API_KEY,
  FETCH_VERSION,
  type FetchedPartition,
} from "./fetch-request.js";
import { FetchVersionCheck } from "./fetch-version-check.js";
import { keptBatches, readBatch } from "./fetched-batches.js";
import type { LogBatch, LogReadRequest } from "./kafka-client.js";
import {
  describeKafkaError,
  isKafkaErrorKind,
  KafkaErrorKind,
  kafkaErrorCode,
} from "./kafka-error-codes.js";
import type { BatchRecord, RecordBatchHeader } from "./record-batch.js";
import { authorizationError } from "./security-errors.js";

/**
 * How long the reader keeps retrying without progress (leader moves, broker restarts):
 * long enough for the controller to fence a dead broker (`broker.session.timeout.ms`, 9 s
 * by default) and elect new leaders, several times over.
 */
const RETRY_DEADLINE_MS = 60_000;
const RETRY_BACKOFF_MS = 250;
const MAX_RETRY_BACKOFF_MS = 2_000;
/** How long the broker holds a fetch with no data (the last stable offset may lag). */
const FETCH_MAX_WAIT_MS = 500;
/** Records handed to `onBatch` at a time. */
const DELIVERY_CHUNK = 2_000;
/** Upper bound of one fetch response, over all its partitions. */
const FETCH_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The caller's `onBatch` failed. Never retried, even when the error says it is
 * retriable: the positions already moved past the records it was given.
 */
class DeliveryFailed extends Error {
  override readonly name = "DeliveryFailed";
}

interface RangeState {
  readonly partition: number;
  position: number;
  readonly end: number;
}

/** A fetched partition whose batches are known but whose records are not read yet. */
interface FetchedRange {
  readonly state: RangeState;
  readonly from: number;
  readonly batches: readonly RecordBatchHeader[];
}

/**
 * Reads ranges of a log straight from the partition leaders with Fetch requests, no
 * consumer group involved: the fast path of replays and key histories. Records are
 * decoded lazily ({@link BatchRecord}); while a response's records are handed out, the
 * next fetch is already in flight. Leader moves and broken connections are retried
 * with fresh metadata for up to a minute without progress.
 */
export class LogReader {
  private readonly fetchVersions = new FetchVersionCheck();

  /** @param noProgressTimeoutMs how long to retry without progress (default 60 s). */
  constructor(
    private readonly lookupLeaders: LeaderLookup,
    private readonly noProgressTimeoutMs = RETRY_DEADLINE_MS,
  ) {}

  /** See `KafkaClient.readLog`. */
  async read(request: LogReadRequest, onBatch: (batch: LogBatch) => Promise<void>): Promise<void> {
    const states = request.ranges
      .map((r) => ({
        partition: r.partition,
        position: toNumber(r.start, request.topic, r.partition),
        end: toNumber(r.end, request.topic, r.partition),
      }))
      .filter((s) => s.position < s.end);
    const unfinished = () => states.filter((s) => s.position < s.end);
    try {
      // Each attempt starts from fresh metadata: a leader that died or moved is left behind.
      await retrying(() => this.readRound(states, request, onBatch), {
        timeoutMs: this.noProgressTimeoutMs,
        initialDelayMs: RETRY_BACKOFF_MS,
        maxDelayMs: MAX_RETRY_BACKOFF_MS,
        progress: () => states.reduce((sum, s) => sum + s.position, 0),
        signal: request.signal,
        // The caller's own failure is never retried, whatever its cause chain says.
        retriable: (error) => !(error instanceof DeliveryFailed) && isRetriable(error),
        exhausted: (error) => {
          const left = unfinished();
          return new TokaError(
            TokaErrorCode.KafkaFailed,
            `reading the log made no progress for ${this.noProgressTimeoutMs / 1000} s; check that its partition leaders are reachable; partitions left (at offset, of end): ${left.map((s) => `${s.partition} (${s.position} of ${s.end})`).join(", ")}; last failure: ${rootMessage(error)}`,
            {
              topic: request.topic,
              partition: left[0]?.partition,
              offset: left[0] && String(left[0].position),
              cause: error,
              retriable: true,
            },
          );
        },
      });
    } catch (error) {
      if (error instanceof DeliveryFailed) throw error.cause;
      throw error;
    }
  }

  /**
   * One round: reads the unfinished ranges from their leaders, leaders in parallel.
   * @throws the first failure, one that is not retriable before those that are.
   */
  private async readRound(
    states: readonly RangeState[],
    request: LogReadRequest,
    onBatch: (batch: LogBatch) => Promise<void>,
  ): Promise<void> {
    const { leaders } = await this.lookupLeaders(request.topic);
    const byLeader = new Map<string, { address: BrokerAddress; states: RangeState[] }>();
    for (const state of states) {
      if (state.position >= state.end) continue;
      const address = leaders.get(state.partition);
      if (!address) {
        throw new TokaError(
          TokaErrorCode.KafkaFailed,
          "the partition has no leader in the brokers' metadata",
          {
            topic: request.topic,
            partition: state.partition,
            offset: String(state.position),
            retriable: true,
          },
        );
      }
      const key = `${address.host}:${address.port}`;
      const group = byLeader.get(key) ?? { address, states: [] };
      byLeader.set(key, group);
      group.states.push(state);
    }
    const results = await Promise.allSettled(
      [...byLeader.values()].map((g) => this.readFromLeader(g.address, g.states, request, onBatch)),
    );
    const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    const fatal = failures.find((e) => (e as { retriable?: unknown }).retriable !== true);
    if (failures.length > 0) throw fatal ?? failures[0];
  }

  /** Reads the ranges one leader holds until they are done or the leadership moves. */
  private async readFromLeader(
    address: BrokerAddress,
    states: readonly RangeState[],
    request: LogReadRequest,
    onBatch: (batch: LogBatch) => Promise<void>,
  ): Promise<void> {
    let connection: BrokerConnection | undefined;
    try {
      connection = await BrokerConnection.open(address);
      await this.fetchVersions.check(connection, address);
      const fetch = () => {
        const active = states.filter((s) => s.position < s.end);
        if (active.length === 0) return undefined;
        const body = encodeFetchRequest({
          topics: [
            {
              topic: request.topic,
              partitions: active.map((s) => ({
                partition: s.partition,
                offset: s.position,
                maxBytes: request.maxBytesPerPartition,
              })),
            },
          ],
          maxWaitMs: FETCH_MAX_WAIT_MS,
          maxBytes: Math.min(FETCH_MAX_BYTES, active.length * request.maxBytesPerPartition),
          readCommitted: request.readCommitted,
        });
        const response = connection!.request(FETCH_API_KEY, FETCH_VERSION, body);
        // A read that fails leaves its prefetch unanswered: not an unhandled rejection.
        response.catch(() => {});
        return response;
      };
      for (let inFlight = fetch(); inFlight; ) {
        request.signal?.throwIfAborted();
        const response = decodeFetchResponse(await inFlight);
        if (response.errorCode !== 0) {
          throw fetchError(response.errorCode, request.topic, undefined, undefined);
        }
        const fetched: FetchedRange[] = [];
        let moved: TokaError | undefined;
        for (const partition of response.partitions) {
          const state = states.find((s) => s.partition === partition.partition);
          if (!state) continue;
          // Errors that end with new metadata: the leader moved or is being elected.
          if (isKafkaErrorKind(partition.errorCode, KafkaErrorKind.LeaderMoved)) {
            moved ??= new TokaError(
              TokaErrorCode.KafkaFailed,
              `broker ${address.host}:${address.port} answered a fetch with ${describeKafkaError(partition.errorCode)}: the partition's leadership moved or is moving`,
              {
                topic: request.topic,
                partition: partition.partition,
                offset: String(state.position),
                retriable: true,
              },
            );
            continue;
          }
          if (partition.errorCode !== 0) {
            throw fetchError(partition.errorCode, request.topic, partition, state.position);
          }
          const from = state.position;
          const kept = keptBatches(partition, state.position, state.end, request.readCommitted);
          state.position = kept.nextOffset;
          const batches = kept.batches;
          fetched.push({ state, from, batches });
        }
        // Positions moved past what this response holds: ask for more before reading it.
        inFlight = moved ? undefined : fetch();
        for (const range of fetched) await this.deliver(range, request, onBatch);
        if (moved) throw moved;
      }
    } catch (error) {
      if ((error as Error).name !== "BrokerConnectionError") throw error;
      const first = states.find((s) => s.position < s.end);
      throw new TokaError(
        TokaErrorCode.KafkaFailed,
        `fetching partition(s) ${states.map((s) => s.partition).join(", ")} from their leader ${address.host}:${address.port} failed`,
        {
          topic: request.topic,
          partition: first?.partition,
          offset: first && String(first.position),
          cause: error,
          retriable: true,
        },
      );
    } finally {
      connection?.close();
    }
  }

  /**
   * Hands a fetched range to `onBatch` in chunks of about DELIVERY_CHUNK records: a
   * whole response (tens of thousands of records per partition) would keep its record
   * objects alive long enough for the garbage collector to promote them.
   */
  private async deliver(
    range: FetchedRange,
    request: LogReadRequest,
    onBatch: (batch: LogBatch) => Promise<void>,
  ) {
    const { state } = range;
    const send = async (records: BatchRecord[], nextOffset: number) => {
      try {
        await onBatch({
          topic: request.topic,
          partition: state.partition,
          records,
          nextOffset: String(nextOffset),
        });
      } catch (cause) {
        throw new DeliveryFailed("onBatch failed", { cause });
      }
    };
    let records: BatchRecord[] = [];
    for (const batch of range.batches) {
      const reading = readBatch(
        request.topic,
        state.partition,
        batch,
        range.from,
        state.end,
        records,
      );
      if (reading) await reading;
      if (records.length >= DELIVERY_CHUNK) {
        await send(records, records.at(-1)!.offsetNumber + 1);
        records = [];
      }
    }
    if (records.length > 0 || state.position !== range.from) await send(records, state.position);
  }
}

function fetchError(
  code: number,
  topic: string,
  partition: FetchedPartition | undefined,
  position: number | undefined,
): TokaError {
  const coordinates = {
    topic,
    partition: partition?.partition,
    offset: position === undefined ? undefined : String(position),
  };
  if (code === kafkaErrorCode("OFFSET_OUT_OF_RANGE")) {
    return new TokaError(
      TokaErrorCode.KafkaFailed,
      `${describeKafkaError(code)}: offset ${position} is outside the partition's log: it was deleted by retention or is past the end; read a range within the partition's watermarks`,
      coordinates,
    );
  }
  const denied = authorizationError(code, { operation: "Read", topic });
  if (denied) return denied;
  return new TokaError(
    TokaErrorCode.KafkaFailed,
    `the broker answered a fetch with ${describeKafkaError(code)}`,
    coordinates,
  );
}

function toNumber(offset: string, topic: string, partition: number): number {
  const value = Number(offset);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TokaError(TokaErrorCode.InvalidArgument, `offset "${offset}" is not a valid offset`, {
      topic,
      partition,
    });
  }
  return value;
}
