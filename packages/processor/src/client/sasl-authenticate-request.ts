/**
 * The SaslAuthenticate request (API key 36) in version 1, the last version without
 * flexible encoding (version 2 only changes the encoding; Kafka 4 answers 0-2): one step
 * of a mechanism's exchange, its bytes opaque to Kafka.
 *
 *   SaslAuthenticate Request (Version: 1) => auth_bytes
 *     auth_bytes => BYTES
 *
 *   SaslAuthenticate Response (Version: 1) => error_code error_message auth_bytes session_lifetime_ms
 *     error_code => INT16
 *     error_message => NULLABLE_STRING
 *     auth_bytes => BYTES
 *     session_lifetime_ms => INT64
 */
export const SASL_AUTHENTICATE_API_KEY = 36;
export const SASL_AUTHENTICATE_VERSION = 1;

export interface SaslAuthenticateResponse {
  /** 58 (SASL_AUTHENTICATION_FAILED) when the broker rejects the credentials. */
  readonly errorCode: number;
  readonly errorMessage: string | undefined;
  readonly authBytes: Buffer;
  /**
   * How long the broker keeps the session before it wants a re-authentication
   * (KIP-368); 0 when it never does. toka does not re-authenticate (see docs/security.md).
   */
  readonly sessionLifetimeMs: number;
}

export function encodeSaslAuthenticateRequest(authBytes: Buffer): Buffer {
  const out = Buffer.alloc(4 + authBytes.byteLength);
  out.writeInt32BE(authBytes.byteLength, 0);
  authBytes.copy(out, 4);
  return out;
}

export function decodeSaslAuthenticateResponse(body: Buffer): SaslAuthenticateResponse {
  const errorCode = body.readInt16BE(0);
  const messageLength = body.readInt16BE(2);
  let at = 4;
  const errorMessage =
    messageLength < 0 ? undefined : body.toString("utf8", at, at + messageLength);
  at += Math.max(0, messageLength);
  const bytesLength = body.readInt32BE(at);
  at += 4;
  const authBytes = bytesLength < 0 ? Buffer.alloc(0) : body.subarray(at, at + bytesLength);
  at += Math.max(0, bytesLength);
  const sessionLifetimeMs = Number(body.readBigInt64BE(at));
  return { errorCode, errorMessage, authBytes, sessionLifetimeMs };
}
