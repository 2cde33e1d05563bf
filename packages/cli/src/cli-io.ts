/** Where the CLI writes: the process's streams, or buffers in tests. */
export interface CliIo {
  /** Results: values, histories, plans. */
  out(text: string): void;
  /** Progress, warnings and errors. */
  err(text: string): void;
  /** Whether `err` is a terminal: progress then redraws one line instead of printing lines. */
  readonly errIsTTY: boolean;
}

/** The process's stdout and stderr. */
export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  get errIsTTY() {
    return process.stderr.isTTY === true;
  },
};
