import { TokaError, TokaErrorCode } from "../errors.js";
import {
  describeKafkaError,
  KafkaErrorKind,
  kafkaError,
  kafkaErrorNamed,
} from "./kafka-error-codes.js";

/**
 * OpenSSL's verdicts on a broker's certificate (as Node names them): none goes away by
 * connecting again, so they end in `TOKA_TLS_FAILED` rather than a retriable connection
 * error.
 */
const CERTIFICATE_ERRORS = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * The TLS failure of a connection to `broker` as a `TOKA_TLS_FAILED` error saying what to
 * change, or `undefined` when `error` is no TLS failure (a refused or reset connection).
 */
export function tlsError(broker: string, error: NodeJS.ErrnoException): TokaError | undefined {
  const code = error.code ?? "";
  let fix: string;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    fix = `the broker's certificate is not issued for the address toka connects to; connect by a name the certificate lists, or set "ssl.servername"`;
  } else if (CERTIFICATE_ERRORS.has(code)) {
    fix = `toka does not trust the broker's certificate; give the CA that signed it as "ssl.ca" (PEM)`;
  } else if (code.startsWith("ERR_SSL_")) {
    fix =
      "the broker does not speak TLS on this port, or not the same TLS; check the port and the listener's security protocol";
  } else {
    return undefined;
  }
  return new TokaError(
    TokaErrorCode.TlsFailed,
    `the TLS handshake with broker ${broker} failed: ${error.message} (${code}); ${fix}`,
    { cause: error },
  );
}

/** What an authorization failure concerns. */
export interface DeniedOperation {
  /** The operation as Kafka's ACLs name it: `Read`, `Write`, `Describe`, `Create`, ... */
  readonly operation: string;
  readonly topic?: string | undefined;
  readonly group?: string | undefined;
}

/**
 * A `TOKA_AUTHORIZATION_FAILED` error for a Kafka error code or a kafkajs error type that
 * denies an operation, naming the operation and what it was on; `undefined` for any
 * other code.
 */
export function authorizationError(
  errorCode: number | string,
  denied: DeniedOperation,
  cause?: unknown,
): TokaError | undefined {
  const known = typeof errorCode === "number" ? kafkaError(errorCode) : kafkaErrorNamed(errorCode);
  if (known?.kind !== KafkaErrorKind.Authorization) return undefined;
  const on =
    known.denies === "group" && denied.group !== undefined
      ? `group ${denied.group}`
      : known.denies === "topic" && denied.topic !== undefined
        ? `topic ${denied.topic}`
        : `the ${known.denies}`;
  return new TokaError(
    TokaErrorCode.AuthorizationFailed,
    `the broker denied ${denied.operation} on ${on}: ${describeKafkaError(known.code)}; grant the client's principal an ACL for ${denied.operation} on ${on}`,
    { topic: denied.topic, group: denied.group, cause },
  );
}

/** Failures that no retry fixes: wrong credentials, untrusted certificates, missing ACLs. */
export function isSecurityError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    code === TokaErrorCode.AuthenticationFailed ||
    code === TokaErrorCode.TlsFailed ||
    code === TokaErrorCode.AuthorizationFailed
  );
}
