import { EventEmitter } from "node:events";
import { describe, expect, test } from "vitest";
import { TokaError, TokaErrorCode } from "../src/errors.js";
import type { ProcessorEvents } from "../src/events.js";
import type { LogFields } from "../src/logger.js";
import { logProcessorEvents } from "../src/processor-log.js";

function recording() {
  const lines: { level: string; message: string; fields: LogFields | undefined }[] = [];
  const at = (level: string) => (message: string, fields?: LogFields) =>
    lines.push({ level, message, fields });
  return {
    lines,
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
  };
}

describe("logProcessorEvents", () => {
  test("assignment, recovery progress at most every 5 s, and revocation at info", () => {
    const events = new EventEmitter<ProcessorEvents>();
    const { lines, logger } = recording();
    let clock = 0;
    logProcessorEvents(events, logger, "bank", () => clock);
    events.emit("partition.assigned", { partition: 3 });
    clock = 10_000;
    events.emit("partition.recovering", { partition: 3, recovered: 100, total: 1000 });
    clock = 12_000;
    events.emit("partition.recovering", { partition: 3, recovered: 200, total: 1000 });
    clock = 15_000;
    events.emit("partition.recovering", { partition: 3, recovered: 500, total: 1000 });
    events.emit("partition.recovered", { partition: 3, records: 1000, durationMs: 5000 });
    events.emit("partition.revoked", { partition: 3 });
    expect(lines.map((l) => [l.level, l.message, l.fields?.recovered])).toEqual([
      ["info", "partition assigned", undefined],
      ["info", "partition recovering", 100],
      ["info", "partition recovering", 500],
      ["info", "partition recovered", undefined],
      ["info", "partition revoked", undefined],
    ]);
    expect(lines.every((l) => l.fields?.group === "bank" && l.fields?.partition === 3)).toBe(true);
  });

  test("dead letters at warn, one line a second with the count of those suppressed", () => {
    const events = new EventEmitter<ProcessorEvents>();
    const { lines, logger } = recording();
    let clock = 0;
    logProcessorEvents(events, logger, "bank", () => clock);
    const letter = (offset: string) =>
      new TokaError(TokaErrorCode.DecodeFailed, "bad", { group: "bank", topic: "in", offset });
    events.emit("message.dead-lettered", letter("1"));
    clock = 200;
    events.emit("message.dead-lettered", letter("2"));
    events.emit("message.skipped", letter("3"));
    clock = 1_300;
    events.emit("message.dead-lettered", letter("4"));
    expect(
      lines.map((l) => [
        l.level,
        l.message,
        (l.fields?.error as TokaError | undefined)?.offset,
        l.fields?.suppressed,
      ]),
    ).toEqual([
      ["warn", "message dead-lettered", "1", 0],
      ["warn", "message dead-lettered", "4", 2],
    ]);
  });
});
