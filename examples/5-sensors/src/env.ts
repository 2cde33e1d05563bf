import { z } from "zod";

/** The environment the sensors example reads, with its defaults. */
const Env = z.object({
  /** Comma-separated bootstrap brokers. */
  KAFKA_BROKERS: z
    .string()
    .default("127.0.0.1:19092")
    .transform((list) => list.split(",").map((broker) => broker.trim()))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected "host:port"')).min(1)),
  /** Appended to every topic and group name, to run next to another instance. */
  NAME_SUFFIX: z.string().default(""),
  /**
   * How many sensors send readings. Ten, so that each of the 4 partitions of the readings
   * holds sensors that keep its stream time moving while another is quiet: a silence is
   * noticed only then (see `sensor-silence.ts`).
   */
  SENSORS: z.coerce.number().int().min(1).max(100).default(10),
  /** Sensor time from one round of readings to the next. */
  STEP_MS: z.coerce.number().int().positive().default(5000),
  /** Real time from one round of readings to the next. */
  INTERVAL_MS: z.coerce.number().int().min(0).default(100),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("warn"),
});

/** The sensors example's settings from the environment. */
export type SensorEnv = z.infer<typeof Env>;

/**
 * Reads and validates the environment once, at start.
 * @throws Error naming the variable and what is wrong with it.
 */
export function readEnv(env: NodeJS.ProcessEnv): SensorEnv {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid environment variable ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}
