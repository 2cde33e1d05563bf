import { z } from "zod";

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** The environment the click service reads, with its defaults. */
const Env = z.object({
  /** Comma-separated bootstrap brokers. */
  KAFKA_BROKERS: z
    .string()
    .default("127.0.0.1:19092")
    .transform((list) => list.split(",").map((broker) => broker.trim()))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected "host:port"')).min(1)),
  CLICKS_TOPIC: z.string().min(1).default("user-clicks"),
  CLICKS_GROUP: z.string().min(1).default("click-counter"),
  HOST: z.string().min(1).default("127.0.0.1"),
  /** The click API; 0 picks a free port. */
  PORT: port(8080),
  /** The query service; 0 picks a free port. */
  QUERY_PORT: port(8081),
  /** A directory for the processor's LevelDB state; unset keeps it in memory. */
  STATE_DIR: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("warn"),
});

/** The click service's settings from the environment. */
export type ClickEnv = z.infer<typeof Env>;

/**
 * Reads and validates the environment once, at start.
 * @throws Error naming the variable and what is wrong with it.
 */
export function readEnv(env: NodeJS.ProcessEnv): ClickEnv {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid environment variable ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}
