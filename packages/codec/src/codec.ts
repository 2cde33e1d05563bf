/**
 * Turns values of type `T` into bytes and back. Every message key/value and table value
 * in toka passes through one.
 *
 * `decode` and `encode` throw {@link CodecError} on bad input, never anything else.
 * A `null` Kafka value (a tombstone) never reaches a codec: in a table it means
 * "delete this key", and toka handles it before decoding.
 *
 * A codec never returns a silently different value: for a value `x` of its type,
 * `decode(encode(x))` equals `x` or `encode` throws (each codec documents the few
 * differences its format defines, such as JSON writing `-0` as `0`). Decoders accept any
 * Uint8Array view, a Buffer at an offset of a larger allocation included. A decoded
 * value may share memory with the input (`bytesCodec` returns it, protobuf `bytes`
 * fields are views of it): do not change the input after decoding.
 *
 * A JSON `null` is a value like any other: `jsonCodec().encode(null)` writes the 4 bytes
 * `null`, which is not a tombstone.
 */
export interface Codec<T> {
  /** Shown in error messages, e.g. `json(Deposit)` or `protobuf(bank.v1.Event)`. */
  readonly name: string;
  /** @throws CodecError when the value cannot be encoded (e.g. it violates the schema). */
  encode(value: T): Uint8Array;
  /** @throws CodecError when the bytes are not a valid encoding of a `T`. */
  decode(bytes: Uint8Array): T;
}

/** The value type a codec encodes and decodes. */
export type CodecValue<C> = C extends Codec<infer T> ? T : never;
