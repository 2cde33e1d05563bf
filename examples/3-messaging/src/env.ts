import { z } from "zod";

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** The environment the messaging service reads, with its defaults. */
const Env = z.object({
  /** Comma-separated bootstrap brokers. */
  KAFKA_BROKERS: z
    .string()
    .default("127.0.0.1:19092")
    .transform((list) => list.split(",").map((broker) => broker.trim()))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected "host:port"')).min(1)),
  /** Appended to every topic and group name, to run next to another instance. */
  NAME_SUFFIX: z.string().default(""),
  HOST: z.string().min(1).default("127.0.0.1"),
  /** The chat API; 0 picks a free port. */
  PORT: port(8080),
  /** The query service; 0 picks a free port. */
  QUERY_PORT: port(8081),
  INBOX_SIZE: z.coerce.number().int().positive().default(5),
  SPAM_MIN_MESSAGES: z.coerce.number().int().positive().default(20),
  SPAM_SENT_RATIO: z.coerce.number().gt(0).max(1).default(0.8),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("warn"),
});

/** The messaging service's settings from the environment. */
export type MessagingEnv = z.infer<typeof Env>;

/**
 * Reads and validates the environment once, at start.
 * @throws Error naming the variable and what is wrong with it.
 */
export function readEnv(env: NodeJS.ProcessEnv): MessagingEnv {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid environment variable ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}
