import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, onTestFinished } from "vitest";
import {
  isStorageError,
  type Storage,
  type StorageError,
  type StorageErrorCode,
  type StorageFactory,
  TOKA_ERROR_BRAND,
} from "../src/index.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The text of stored bytes (`undefined` stays `undefined`). */
export function text(value: Uint8Array | undefined): string | undefined {
  return value === undefined ? undefined : decoder.decode(value);
}

/** A fresh temp directory, removed when the test finishes. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "toka-state-store-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A new storage from `factory`, opened, closed when the test finishes. */
export async function openStorage(
  factory: StorageFactory,
  topic = "group-table",
  partition = 0,
): Promise<Storage> {
  const storage = factory(topic, partition);
  onTestFinished(() => storage.close());
  await storage.open();
  return storage;
}

/** All entries of an iteration, values as text. */
export async function entries(
  iterable: AsyncIterable<[string, Uint8Array]>,
): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const [key, value] of iterable) out.push([key, text(value)!]);
  return out;
}

/** Awaits `promise`, expecting a StorageError with `code`; returns it for further checks. */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: StorageErrorCode,
): Promise<StorageError> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected StorageError ${code}, but it resolved`);
  return expectStorageError(outcome.error, code);
}

/** Runs `fn`, expecting it to throw a StorageError with `code`; returns it. */
export function throwsWith(fn: () => unknown, code: StorageErrorCode): StorageError {
  try {
    fn();
  } catch (error) {
    return expectStorageError(error, code);
  }
  throw new Error(`expected StorageError ${code}, nothing was thrown`);
}

function expectStorageError(error: unknown, code: StorageErrorCode): StorageError {
  if (!isStorageError(error)) throw new Error(`expected StorageError ${code}`, { cause: error });
  expect(error.code).toBe(code);
  expect(error.name).toBe("StorageError");
  expect(error[TOKA_ERROR_BRAND]).toBe(true);
  return error;
}

/** A child process running a fixture under tsx, killed when the test finishes. */
export function spawnFixture(fixture: string, args: readonly string[]): ChildProcess {
  const script = fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return child;
}

/**
 * Resolves with the first stdout line of `child` that `match` accepts; rejects when the
 * child exits first or after `timeoutMs`, saying what it waited for.
 */
export function waitForLine(
  child: ChildProcess,
  match: (line: string) => boolean,
  timeoutMs = 60_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const done = (error: Error | undefined, line?: string): void => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
      if (error !== undefined) reject(error);
      else resolve(line!);
    };
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      const line = lines.find(match);
      if (line !== undefined) done(undefined, line);
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(
        new Error(
          `child exited (code ${code}, signal ${signal}) before printing the expected line`,
        ),
      );
    const timer = setTimeout(
      () => done(new Error(`child printed no expected line within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.stdout?.on("data", onData);
    child.on("exit", onExit);
  });
}

/** Resolves when `child` has exited. */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}
