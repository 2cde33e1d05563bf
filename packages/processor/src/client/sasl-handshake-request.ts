/**
 * The SaslHandshake request (API key 17) in version 1: the client names a mechanism; the
 * broker answers whether it is enabled, and lists the enabled ones. Version 1 means the
 * authentication bytes that follow travel in SaslAuthenticate requests (KIP-152), not
 * as raw frames.
 *
 *   SaslHandshake Request (Version: 1) => mechanism
 *     mechanism => STRING
 *
 *   SaslHandshake Response (Version: 1) => error_code [mechanisms]
 *     error_code => INT16
 *     mechanisms => STRING
 */
export const SASL_HANDSHAKE_API_KEY = 17;
export const SASL_HANDSHAKE_VERSION = 1;

export interface SaslHandshakeResponse {
  /** 33 (UNSUPPORTED_SASL_MECHANISM) when the broker does not enable the mechanism. */
  readonly errorCode: number;
  readonly mechanisms: readonly string[];
}

/** Asks for `mechanism` as Kafka spells it (`SCRAM-SHA-512`). */
export function encodeSaslHandshakeRequest(mechanism: string): Buffer {
  const name = Buffer.from(mechanism);
  const out = Buffer.alloc(2 + name.byteLength);
  out.writeInt16BE(name.byteLength, 0);
  name.copy(out, 2);
  return out;
}

export function decodeSaslHandshakeResponse(body: Buffer): SaslHandshakeResponse {
  const errorCode = body.readInt16BE(0);
  const count = body.readInt32BE(2);
  let at = 6;
  const mechanisms: string[] = [];
  for (let m = 0; m < count; m++) {
    const length = body.readInt16BE(at);
    mechanisms.push(body.toString("utf8", at + 2, at + 2 + length));
    at += 2 + length;
  }
  return { errorCode, mechanisms };
}
