import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { z } from "zod";
import { type ErrorCoordinates, TokaError, TokaErrorCode } from "./errors.js";

/** The SASL mechanisms toka speaks, on its own connections and through kafkajs. */
export const SaslMechanism = {
  Plain: "plain",
  ScramSha256: "scram-sha-256",
  ScramSha512: "scram-sha-512",
  OauthBearer: "oauthbearer",
} as const;
export type SaslMechanism = (typeof SaslMechanism)[keyof typeof SaslMechanism];

/** SASL with a username and a password: PLAIN (send it over TLS only) or SCRAM. */
export interface SaslPasswordOptions {
  readonly mechanism:
    | typeof SaslMechanism.Plain
    | typeof SaslMechanism.ScramSha256
    | typeof SaslMechanism.ScramSha512;
  readonly username: string;
  readonly password: string;
}

/** SASL OAUTHBEARER (RFC 7628): `token` is asked for a fresh token at each new connection. */
export interface SaslOauthBearerOptions {
  readonly mechanism: typeof SaslMechanism.OauthBearer;
  /** Returns the bearer token (a JWT, as the broker's validator expects it). */
  readonly token: () => string | Promise<string>;
}

/** How toka authenticates to the brokers. */
export type SaslOptions = SaslPasswordOptions | SaslOauthBearerOptions;

/**
 * TLS settings: `true` for Node's defaults (the system's CAs), or Node's
 * `tls.ConnectionOptions` (`ca` for a private CA, `cert`/`key` for client certificates,
 * `servername`). `rejectUnauthorized: false` turns certificate checks off: never in
 * production.
 */
export type SslOptions = boolean | TlsConnectionOptions;

/** The security options every toka class that reaches Kafka takes. */
export interface SecurityOptions {
  /** TLS to every broker. Default: plaintext. */
  readonly ssl?: SslOptions | undefined;
  /** SASL authentication on every connection. Default: none. */
  readonly sasl?: SaslOptions | undefined;
}

const nonEmpty = (what: string) => z.string().min(1, `give the SASL ${what}`);

/** Validates {@link SecurityOptions}; merged into each class's options schema. */
export const securityOptionsSchema = z.object({
  ssl: z.union([z.boolean(), z.looseObject({})]).optional(),
  sasl: z
    .discriminatedUnion(
      "mechanism",
      [
        z.object({
          mechanism: z.enum([
            SaslMechanism.Plain,
            SaslMechanism.ScramSha256,
            SaslMechanism.ScramSha512,
          ]),
          username: nonEmpty("username"),
          password: nonEmpty("password"),
        }),
        z.object({
          mechanism: z.literal(SaslMechanism.OauthBearer),
          token: z.custom<() => string>((v) => typeof v === "function", {
            message: "give a function that returns the bearer token",
          }),
        }),
      ],
      {
        error: `use one of the mechanisms ${Object.values(SaslMechanism).join(", ")}`,
      },
    )
    .optional(),
});

/**
 * Validates the security options of a class that has no options schema of its own.
 * @throws TokaError `TOKA_INVALID_CONFIG` naming the option (`sasl.username`) and the fix.
 */
export function checkSecurityOptions(
  what: string,
  options: SecurityOptions,
  coordinates: ErrorCoordinates = {},
): void {
  const parsed = securityOptionsSchema.safeParse({ ssl: options.ssl, sasl: options.sasl });
  if (parsed.success) return;
  const issue = parsed.error.issues[0]!;
  throw new TokaError(
    TokaErrorCode.InvalidConfig,
    `invalid ${what} option "${issue.path.join(".")}": ${issue.message}`,
    { ...coordinates, cause: parsed.error },
  );
}
