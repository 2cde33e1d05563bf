// What workload (w) of the peer benchmark aggregates per sensor and minute: the min, max,
// sum and count of its readings, with compact binary codecs for the window and for its
// final result, so that toka writes about as many bytes as the Kafka Streams peer (four
// longs; bench/peers/kafka-streams) rather than paying for JSON.
import { type Codec, CodecError, CodecErrorCode } from "@toka/codec";
import type { WindowResult } from "@toka/processor";

/** The windows' size: one minute, as the Kafka Streams peer's `TimeWindows`. */
export const WINDOW_MS = 60_000;

/** The readings of one sensor in one window. */
export interface Stats {
  readonly min: number;
  readonly max: number;
  readonly sum: number;
  readonly count: number;
}

/** A window before its first reading: ±Infinity, which float64 keeps (JSON would not). */
export const noStats = (): Stats => ({
  min: Number.POSITIVE_INFINITY,
  max: Number.NEGATIVE_INFINITY,
  sum: 0,
  count: 0,
});

/** `stats` with one more reading. */
export function withReading(stats: Stats, reading: number): Stats {
  return {
    min: Math.min(stats.min, reading),
    max: Math.max(stats.max, reading),
    sum: stats.sum + reading,
    count: stats.count + 1,
  };
}

const STATS_BYTES = 32;

function writeStats(view: DataView, at: number, stats: Stats): void {
  view.setFloat64(at, stats.min);
  view.setFloat64(at + 8, stats.max);
  view.setFloat64(at + 16, stats.sum);
  view.setFloat64(at + 24, stats.count);
}

function readStats(view: DataView, at: number): Stats {
  return {
    min: view.getFloat64(at),
    max: view.getFloat64(at + 8),
    sum: view.getFloat64(at + 16),
    count: view.getFloat64(at + 24),
  };
}

function malformed(codec: string, bytes: Uint8Array, expected: string): CodecError {
  return new CodecError(
    CodecErrorCode.Malformed,
    codec,
    `expected ${expected}, got ${bytes.byteLength} bytes`,
  );
}

// Encoding takes the numbers it is given without checks: the values come from
// withReading only, never from input.
/** A window's stats as four big-endian float64s: min, max, sum, count. */
export const statsCodec: Codec<Stats> = {
  name: "bench-stats",
  encode(stats) {
    const bytes = new Uint8Array(STATS_BYTES);
    writeStats(new DataView(bytes.buffer), 0, stats);
    return bytes;
  },
  decode(bytes) {
    if (bytes.byteLength !== STATS_BYTES) throw malformed("bench-stats", bytes, "32 bytes");
    return readStats(new DataView(bytes.buffer, bytes.byteOffset, STATS_BYTES), 0);
  },
};

/** Start and end (float64s), the stats, the final flag (one byte). */
const RESULT_HEAD_BYTES = 16 + STATS_BYTES + 1;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/**
 * A final result: start, end, the stats and the final flag, then the key in UTF-8 (the
 * record key too, but a codec's bytes must decode to the whole result).
 */
export const statsResultCodec: Codec<WindowResult<Stats>> = {
  name: "bench-stats-result",
  encode(result) {
    const key = utf8.encode(result.key);
    const bytes = new Uint8Array(RESULT_HEAD_BYTES + key.byteLength);
    const view = new DataView(bytes.buffer);
    view.setFloat64(0, result.start);
    view.setFloat64(8, result.end);
    writeStats(view, 16, result.value);
    bytes[RESULT_HEAD_BYTES - 1] = result.final ? 1 : 0;
    bytes.set(key, RESULT_HEAD_BYTES);
    return bytes;
  },
  decode(bytes) {
    if (bytes.byteLength < RESULT_HEAD_BYTES) {
      throw malformed("bench-stats-result", bytes, `at least ${RESULT_HEAD_BYTES} bytes`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return {
      key: fromUtf8.decode(bytes.subarray(RESULT_HEAD_BYTES)),
      start: view.getFloat64(0),
      end: view.getFloat64(8),
      value: readStats(view, 16),
      final: bytes[RESULT_HEAD_BYTES - 1] === 1,
    };
  },
};
