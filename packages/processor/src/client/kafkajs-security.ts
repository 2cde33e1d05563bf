import type { KafkaConfig, SASLOptions } from "kafkajs";
import { SaslMechanism, type SaslOptions, type SecurityOptions } from "../connection-security.js";
import type { TokaError } from "../errors.js";
import { authorizationError, type DeniedOperation } from "./security-errors.js";

/** toka's SASL options as kafkajs takes them. */
export function kafkajsSasl(sasl: SaslOptions): SASLOptions {
  if (sasl.mechanism === SaslMechanism.OauthBearer) {
    const { token } = sasl;
    return {
      mechanism: "oauthbearer",
      oauthBearerProvider: async () => ({ value: await token() }),
    };
  }
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
}

/**
 * A kafkajs failure that is an authorization error (its `type`, or that of an error it
 * aggregates or wraps, is one of Kafka's `*_AUTHORIZATION_FAILED`) as a
 * `TOKA_AUTHORIZATION_FAILED` error; `undefined` for any other failure.
 */
export function kafkajsAuthorizationError(
  error: unknown,
  denied: DeniedOperation,
): TokaError | undefined {
  const pending = [error];
  for (let e = pending.pop(); e !== undefined; e = pending.pop()) {
    if (typeof e !== "object" || e === null) continue;
    const { type, errors, cause, originalError } = e as Record<string, unknown>;
    if (typeof type === "string") {
      const mapped = authorizationError(type, denied, error);
      if (mapped) return mapped;
    }
    if (Array.isArray(errors)) pending.push(...errors);
    if (cause !== undefined) pending.push(cause);
    if (originalError !== undefined) pending.push(originalError);
  }
  return undefined;
}

/**
 * toka's `ssl` and `sasl` as kafkajs config, for code that makes a kafkajs client of its
 * own next to toka's (tests, benchmarks); toka's packages go through `kafkajsClient`.
 */
export function kafkajsSecurity(security: SecurityOptions): Pick<KafkaConfig, "ssl" | "sasl"> {
  return {
    ...(security.ssl === undefined ? {} : { ssl: security.ssl }),
    ...(security.sasl === undefined ? {} : { sasl: kafkajsSasl(security.sasl) }),
  };
}
