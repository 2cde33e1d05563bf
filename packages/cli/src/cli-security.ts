import { readFileSync } from "node:fs";
import { SaslMechanism, type SecurityOptions } from "@toka/processor";
import { z } from "zod";
import { CliExit } from "./cli-context.js";

/** The global TLS and SASL flags as commander parses them. */
export interface SecurityFlags {
  readonly ssl?: boolean;
  readonly sslCa?: string;
  readonly saslMechanism?: string;
  readonly saslUsername?: string;
  readonly saslPassword?: string;
}

const flags = z
  .object({
    ssl: z.boolean().optional(),
    sslCa: z.string().min(1).optional(),
    saslMechanism: z
      .enum(Object.values(SaslMechanism), {
        error: `--sasl-mechanism: use one of ${Object.values(SaslMechanism).join(", ")}`,
      })
      .optional(),
    saslUsername: z.string().min(1, "--sasl-username: give a user name").optional(),
    saslPassword: z.string().min(1).optional(),
    token: z.string().min(1).optional(),
  })
  .superRefine((f, ctx) => {
    const fail = (message: string) => ctx.addIssue({ code: "custom", message });
    if (f.saslMechanism === undefined) {
      if (f.saslUsername !== undefined)
        fail("--sasl-username needs --sasl-mechanism (plain, scram-sha-256 or scram-sha-512)");
    } else if (f.saslMechanism === SaslMechanism.OauthBearer) {
      if (f.token === undefined)
        fail("--sasl-mechanism oauthbearer needs the token in TOKA_SASL_TOKEN");
    } else if (f.saslUsername === undefined || f.saslPassword === undefined) {
      fail(
        `--sasl-mechanism ${f.saslMechanism} needs --sasl-username and --sasl-password (or TOKA_SASL_PASSWORD)`,
      );
    }
  });

/**
 * `--ssl`, `--ssl-ca <file>` (implies `--ssl`), `--sasl-mechanism`, `--sasl-username`,
 * `--sasl-password` (else `TOKA_SASL_PASSWORD`, which keeps it out of the process list)
 * and, for OAUTHBEARER, the token in `TOKA_SASL_TOKEN`, as toka's security options.
 * @throws CliExit (exit code 2) naming the flag for a missing or invalid one, or a CA
 * file that cannot be read.
 */
export function securityFromFlags(
  given: SecurityFlags,
  env: NodeJS.ProcessEnv = process.env,
): SecurityOptions {
  const parsed = flags.safeParse({
    ...given,
    saslPassword: given.saslPassword ?? env.TOKA_SASL_PASSWORD,
    token: env.TOKA_SASL_TOKEN,
  });
  if (!parsed.success) throw new CliExit(`error: ${parsed.error.issues[0]!.message}`, 2);
  const f = parsed.data;
  let ca: Buffer | undefined;
  if (f.sslCa !== undefined) {
    try {
      ca = readFileSync(f.sslCa);
    } catch (error) {
      throw new CliExit(
        `error: --ssl-ca: cannot read "${f.sslCa}": ${(error as Error).message}`,
        2,
      );
    }
  }
  const ssl = ca ? { ca: [ca] } : f.ssl === true ? true : undefined;
  let sasl: SecurityOptions["sasl"];
  if (f.saslMechanism === SaslMechanism.OauthBearer) {
    const token = f.token!;
    sasl = { mechanism: f.saslMechanism, token: () => token };
  } else if (f.saslMechanism !== undefined) {
    sasl = { mechanism: f.saslMechanism, username: f.saslUsername!, password: f.saslPassword! };
  }
  return { ...(ssl === undefined ? {} : { ssl }), ...(sasl === undefined ? {} : { sasl }) };
}
