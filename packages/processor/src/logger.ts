import { errorFields } from "./error-fields.js";

/** Structured fields of a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The logger toka writes to; inject your own (pino, winston, ...) through the options. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Writes nothing. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

const LEVELS = ["debug", "info", "warn", "error"] as const;
/** A log level name. */
export type LogLevel = (typeof LEVELS)[number];

/**
 * JSON lines on stderr at `level` and above. The default logger of toka at `"warn"`.
 */
export function consoleLogger(level: LogLevel = "warn"): Logger {
  const min = LEVELS.indexOf(level);
  const write = (at: LogLevel) => (message: string, fields?: LogFields) => {
    if (LEVELS.indexOf(at) < min) return;
    process.stderr.write(
      `${JSON.stringify({ level: at, time: new Date().toISOString(), message, ...fields }, errorReplacer)}\n`,
    );
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

function errorReplacer(_key: string, value: unknown) {
  return value instanceof Error ? errorFields(value) : value;
}
