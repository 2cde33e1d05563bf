import type { SecurityOptions } from "../connection-security.js";
import { ClusterMetadata, parseBrokers } from "./cluster-metadata.js";

/**
 * Connects to a bootstrap broker with the TLS and SASL settings and asks for the
 * cluster's brokers: for tools that go on with a kafkajs client of their own, which
 * reports a rejected password or an untrusted certificate only as a connection error
 * after its retries.
 * @throws TokaError `TOKA_TLS_FAILED` or `TOKA_AUTHENTICATION_FAILED` saying what to fix,
 * `TOKA_KAFKA_FAILED` when no broker answers.
 */
export async function checkClusterAccess(
  options: SecurityOptions & { readonly brokers: readonly string[]; readonly clientId?: string },
): Promise<void> {
  const metadata = new ClusterMetadata(parseBrokers(options.brokers), {
    clientId: options.clientId ?? "toka-access-check",
    connectTimeoutMs: 10_000,
    ssl: options.ssl,
    sasl: options.sasl,
  });
  try {
    await metadata.fetch([]);
  } finally {
    metadata.close();
  }
}
