import {
  checkSecurityOptions,
  consoleLogger,
  type Logger,
  type SecurityOptions,
  TokaError,
  TokaErrorCode,
} from "@toka/processor";
import { type KafkaClient, kafkajsClient } from "@toka/processor/kafka";
import { z } from "zod";

/** How the tools of this package reach Kafka; `ssl` and `sasl` as in `ProcessorOptions`. */
export interface ConnectionOptions extends SecurityOptions {
  /** Bootstrap brokers, `host:port`. Required unless `client` is given. */
  readonly brokers?: readonly string[];
  /** A Kafka client of its own (e.g. the in-memory tester's). Default: kafkajs on `brokers`. */
  readonly client?: KafkaClient;
  /** Default: JSON lines on stderr at `warn`. */
  readonly logger?: Logger;
  /** Kafka client id. Default `toka-<what>`. */
  readonly clientId?: string;
}

/** {@link ConnectionOptions} after defaults. */
export interface Connection {
  readonly client: KafkaClient;
  readonly logger: Logger;
}

const schema = z.object({
  brokers: z
    .array(z.string().regex(/^[^:\s]+:\d+$/, 'expected "host:port"'))
    .min(1, 'give at least one broker, e.g. ["127.0.0.1:9092"]')
    .optional(),
  clientId: z.string().min(1).optional(),
});

/**
 * Resolves connection options once.
 * @throws TokaError `TOKA_INVALID_CONFIG` naming the option, or without brokers and client.
 */
export function resolveConnection(
  what: string,
  options: ConnectionOptions,
  coordinates: { group?: string; topic?: string; key?: string } = {},
): Connection {
  const parsed = schema.safeParse({ brokers: options.brokers, clientId: options.clientId });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TokaError(
      TokaErrorCode.InvalidConfig,
      `invalid ${what} option "${issue.path.join(".")}": ${issue.message}`,
      { ...coordinates, cause: parsed.error },
    );
  }
  checkSecurityOptions(what, options, coordinates);
  if (!options.client && !options.brokers) {
    throw new TokaError(
      TokaErrorCode.InvalidConfig,
      `${what} needs "brokers" (e.g. ["127.0.0.1:9092"]) or a "client"`,
      coordinates,
    );
  }
  const logger = options.logger ?? consoleLogger();
  return {
    client:
      options.client ??
      kafkajsClient({
        brokers: options.brokers!,
        clientId: options.clientId ?? `toka-${what.replace(/\W+/g, "-")}`,
        logger,
        ssl: options.ssl,
        sasl: options.sasl,
      }),
    logger,
  };
}
