import { type Codec, CodecError, CodecErrorCode } from "@toka/codec";

/** An aggregate's table value: its state and its version (events applied so far). */
export interface AggregateSnapshot<S> {
  /** Events applied to the aggregate: 0 before its first event. */
  readonly version: number;
  readonly state: S;
}

// Layout: one format byte, the version as a big-endian float64 (an integer up to 2^53),
// then the state's encoding.
const FORMAT = 1;
const HEADER = 9;

/**
 * The codec of an aggregate's table values: the version, then the state encoded with
 * `state`. A `View` of an aggregate's table uses it.
 * @throws CodecError from `encode` for a version that is not a non-negative safe
 * integer and from `decode` (`CODEC_MALFORMED`) for bytes that are not a snapshot.
 */
export function snapshotCodec<S>(state: Codec<S>): Codec<AggregateSnapshot<S>> {
  const name = `snapshot(${state.name})`;
  return {
    name,
    encode(snapshot) {
      if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 0) {
        throw new CodecError(
          CodecErrorCode.EncodeFailed,
          name,
          `the version must be a non-negative safe integer, got ${snapshot.version}`,
        );
      }
      const body = state.encode(snapshot.state);
      const out = new Uint8Array(HEADER + body.byteLength);
      out[0] = FORMAT;
      new DataView(out.buffer).setFloat64(1, snapshot.version);
      out.set(body, HEADER);
      return out;
    },
    decode(bytes) {
      if (bytes.byteLength < HEADER || bytes[0] !== FORMAT) {
        throw new CodecError(
          CodecErrorCode.Malformed,
          name,
          "the bytes are not an aggregate snapshot; is this the table of an aggregate?",
        );
      }
      const version = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(1);
      return { version, state: state.decode(bytes.subarray(HEADER)) };
    },
  };
}
