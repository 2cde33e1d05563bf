import { isValidKey } from "./key-range.js";
import { StorageError, StorageErrorCode } from "./storage-error.js";

/*
 * The key of one window of one record key: what a windowed store sorts by and what the
 * windowed table topic carries as its record key.
 *
 *   length(key)   4 digits, base 128, big-endian: the key's length in UTF-16 code units
 *   key           the record key itself
 *   start         8 digits, base 128, big-endian: the window start in epoch milliseconds
 *
 * Every digit is one character from U+0000 to U+007F, so it is one byte in UTF-8 and
 * the order of the stored UTF-8 bytes is the order of the digits. Storage keys are
 * strings stored as UTF-8, where a lone byte of 0x80 or more does not exist; seven bits
 * per byte is what keeps a number's digits single bytes. Eight of them hold 56 bits,
 * more than the 53 of a safe JS integer.
 *
 * Why the length prefix: without it, keys that prefix each other interleave. The
 * windows of "a" would be "a" + start and those of "ab" would be "ab" + start; whether
 * "a" + start sorts before "ab" + … depends on the first digit of the start, so a range
 * scan over "a"'s windows would also meet windows of "ab". With the prefix, every
 * encoded key of one record key starts with the same length + key, which no encoded
 * key of another record key starts with (a different length differs in the prefix, the
 * same length differs within the key), so one key's windows are one contiguous run,
 * ordered by start. Record keys sort by (length, key) as a consequence; nothing relies
 * on the order between record keys.
 */

/** Digits of the key length: 28 bits, keys up to 268,435,455 UTF-16 code units. */
const LENGTH_DIGITS = 4;
/** Digits of the window start: 56 bits, enough for every safe integer. */
const START_DIGITS = 8;
const RADIX = 128;
/** The longest record key a window key can hold. */
export const MAX_WINDOWED_KEY_LENGTH = RADIX ** LENGTH_DIGITS - 1;

/** A window of a record key, as its encoded key names it. */
export interface WindowKeyParts {
  /** The record key. */
  readonly key: string;
  /** The window start, epoch milliseconds. */
  readonly start: number;
}

/** Whether `time` is a window time the encoding holds: a safe integer, zero or more. */
export function isWindowTime(time: unknown): time is number {
  return typeof time === "number" && Number.isSafeInteger(time) && time >= 0;
}

/**
 * The encoded key of the window of `key` that starts at `start`. Encoded keys of one
 * record key sort by start; see the layout above.
 * @throws StorageError `STORAGE_INVALID_ARGUMENT` when `key` is not a string with a UTF-8
 * form or is longer than {@link MAX_WINDOWED_KEY_LENGTH}, or `start` is not a safe
 * integer ≥ 0.
 */
export function windowKey(key: string, start: number): string {
  if (!isValidKey(key) || key.length > MAX_WINDOWED_KEY_LENGTH) {
    throw invalid(
      `a windowed record key must be a string without lone surrogates of at most ${MAX_WINDOWED_KEY_LENGTH} code units, got ${describe(key)}`,
    );
  }
  if (!isWindowTime(start)) {
    throw invalid(
      `a window start must be a safe integer ≥ 0 (epoch milliseconds), got ${describe(start)}`,
    );
  }
  return digits(key.length, LENGTH_DIGITS) + key + digits(start, START_DIGITS);
}

/**
 * The record key and window start of an encoded window key: the inverse of
 * {@link windowKey}.
 * @throws StorageError `STORAGE_INVALID_ARGUMENT` when `encoded` is not a window key (a
 * record of the windowed table topic written by something else, for instance).
 */
export function decodeWindowKey(encoded: string): WindowKeyParts {
  if (typeof encoded !== "string" || encoded.length < LENGTH_DIGITS + START_DIGITS) {
    throw notAWindowKey(encoded, "too short");
  }
  const length = readDigits(encoded, 0, LENGTH_DIGITS);
  if (length === undefined) throw notAWindowKey(encoded, "its length digits are not digits");
  if (encoded.length !== LENGTH_DIGITS + length + START_DIGITS) {
    throw notAWindowKey(encoded, `its length prefix says ${length}, which does not fit`);
  }
  const start = readDigits(encoded, LENGTH_DIGITS + length, START_DIGITS);
  if (start === undefined || !Number.isSafeInteger(start)) {
    throw notAWindowKey(encoded, "its start is not a safe integer");
  }
  const key = encoded.slice(LENGTH_DIGITS, LENGTH_DIGITS + length);
  if (!isValidKey(key)) throw notAWindowKey(encoded, "its record key has a lone surrogate");
  return { key, start };
}

/**
 * The fixed-width base-128 digits of a window time, as used for starts above: a string of
 * {@link START_DIGITS} characters whose order is the order of the times. Other layouts
 * (the expiry index of a window store) build on it.
 */
export function timeDigits(time: number): string {
  return digits(time, START_DIGITS);
}

/** Reads what {@link timeDigits} wrote at `at`; `undefined` when it is not digits. */
export function readTimeDigits(encoded: string, at: number): number | undefined {
  return readDigits(encoded, at, START_DIGITS);
}

/** Width of {@link timeDigits}, in characters. */
export const TIME_DIGITS = START_DIGITS;

function digits(value: number, width: number): string {
  const out: number[] = new Array(width);
  let rest = value;
  for (let i = width - 1; i >= 0; i--) {
    out[i] = rest % RADIX;
    rest = Math.floor(rest / RADIX);
  }
  return String.fromCharCode(...out);
}

function readDigits(encoded: string, at: number, width: number): number | undefined {
  if (at + width > encoded.length) return undefined;
  let value = 0;
  for (let i = at; i < at + width; i++) {
    const digit = encoded.charCodeAt(i);
    if (digit >= RADIX) return undefined;
    value = value * RADIX + digit;
  }
  return value;
}

function invalid(problem: string): StorageError {
  return new StorageError(StorageErrorCode.InvalidArgument, `Invalid window: ${problem}.`);
}

function notAWindowKey(encoded: unknown, problem: string): StorageError {
  return new StorageError(
    StorageErrorCode.InvalidArgument,
    `Not a window key (${problem}): ${describe(encoded)}. Window keys are written by windowKey(key, start).`,
  );
}

function describe(value: unknown): string {
  if (typeof value === "string") {
    return value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}…` : JSON.stringify(value);
  }
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return `${typeof value} ${String(value)}`;
}
