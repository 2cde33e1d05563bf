import {
  formatBytes,
  loadFold,
  main,
  parseBrokers,
  parseOffsets,
  parseTime,
  toJson,
} from "@toka/cli";
import { expect, test } from "vitest";

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      out: (s: string) => void out.push(s),
      err: (s: string) => void err.push(s),
      errIsTTY: false,
    },
    out,
    err,
  };
};

test("options parse brokers, times and offsets, and say what they expected", () => {
  expect(parseBrokers("a:1, b:2")).toEqual(["a:1", "b:2"]);
  expect(() => parseBrokers("a")).toThrow('expected host:port[,host:port...], got "a"');
  expect(parseTime("2026-01-31T12:00:00Z")).toBe(Date.UTC(2026, 0, 31, 12));
  expect(parseTime("1700000000000")).toBe(1_700_000_000_000);
  expect(() => parseTime("yesterday")).toThrow("expected an ISO 8601 time");
  expect(parseOffsets("0:12,3:4")).toEqual({ 0: "12", 3: "4" });
  expect(() => parseOffsets("0=12")).toThrow("expected partition:offset");
});

test("raw values show as JSON, text or hex; decoded ones without protobuf internals", () => {
  const utf8 = new TextEncoder();
  expect(formatBytes(utf8.encode('{"a":1}'), "auto")).toEqual({ a: 1 });
  expect(formatBytes(utf8.encode("hello"), "auto")).toBe("hello");
  expect(formatBytes(new Uint8Array([0, 1, 255]), "auto")).toBe("0x0001ff");
  expect(formatBytes(new Uint8Array([1, 2]), "base64")).toBe("AQI=");
  expect(formatBytes(null, "auto")).toBeNull();
  expect(toJson({ $typeName: "x.Y", n: 1n, b: new Uint8Array([1]) })).toBe('{"n":"1","b":"AQ=="}');
});

test("usage errors exit 2 with help, failures 1 with the message", async () => {
  const usage = capture();
  expect(await main(["node", "toka", "show", "--key", "k"], usage.io)).toBe(2);
  expect(usage.err.join("")).toContain("required option '-t, --table <topic>' not specified");
  const failing = capture();
  expect(
    await main(["node", "toka", "replay", "--module", "/nonexistent/module.js"], failing.io),
  ).toBe(1);
  expect(failing.err.join("")).toContain('error: cannot import "/nonexistent/module.js"');
  const reset = capture();
  expect(
    await main(
      ["node", "toka", "reset-group", "-g", "g", "-t", "t", "--to-latest", "--to-earliest"],
      reset.io,
    ),
  ).toBe(1);
  expect(reset.err.join("")).toContain(
    "give exactly one of --to-time, --to-earliest, --to-latest, --to-offsets",
  );
});

test("loadFold picks the named, the default or the only aggregate or projection", async () => {
  const path = new URL("./fold-module.ts", import.meta.url).pathname;
  expect((await loadFold(path, "balances")).name).toBe("cli-balances");
  expect((await loadFold(path, "cli-account")).name).toBe("cli-account");
  await expect(loadFold(path)).rejects.toThrow(
    "exports several: account (cli-account), balances (cli-balances)",
  );
  await expect(loadFold(path, "nope")).rejects.toThrow(
    'exports no aggregate or projection named "nope"',
  );
});
