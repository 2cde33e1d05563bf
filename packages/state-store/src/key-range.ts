import type { IterateOptions } from "./storage.js";

/**
 * Keys are JS strings stored as UTF-8. A lone surrogate has no UTF-8 form (an encoder
 * would silently replace it with U+FFFD, merging distinct keys), so such strings are
 * rejected.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether `key` is a string with a UTF-8 form (no lone surrogates). */
export function isValidKey(key: unknown): key is string {
  return typeof key === "string" && !LONE_SURROGATE.test(key);
}

/**
 * Compares two keys in the byte order of their UTF-8 forms, which is code point order.
 * JS `<` compares UTF-16 code units instead and disagrees for characters above U+FFFF
 * versus U+E000–U+FFFF, hence this comparator.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

/** Moves surrogates (0xD800–0xDFFF) above 0xE000–0xFFFF so code units sort as code points. */
function fixup(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

/** One end of a key range. */
export interface Bound {
  readonly key: string;
  readonly inclusive: boolean;
}

/** {@link IterateOptions} validated and normalized; `gte`/`lte` win over `gt`/`lt`. */
export interface KeyRange {
  readonly lower: Bound | undefined;
  readonly upper: Bound | undefined;
  readonly prefix: string | undefined;
  readonly reverse: boolean;
  /** Maximum number of entries; `Infinity` for all. */
  readonly limit: number;
}

/**
 * Validates and normalizes iterate options.
 * @returns the range, or a message saying which option is invalid.
 */
export function resolveRange(options: IterateOptions): KeyRange | string {
  for (const name of ["gt", "gte", "lt", "lte", "prefix"] as const) {
    const value = options[name];
    if (value !== undefined && !isValidKey(value)) {
      return `iterate option "${name}" must be a string without lone surrogates`;
    }
  }
  const { limit = Number.POSITIVE_INFINITY, reverse = false } = options;
  if (!(limit === Number.POSITIVE_INFINITY || (Number.isSafeInteger(limit) && limit >= 0))) {
    return `iterate option "limit" must be a non-negative integer or Infinity, got ${String(limit)}`;
  }
  if (typeof reverse !== "boolean") return `iterate option "reverse" must be a boolean`;
  const lower: Bound | undefined =
    options.gte !== undefined
      ? { key: options.gte, inclusive: true }
      : options.gt !== undefined
        ? { key: options.gt, inclusive: false }
        : undefined;
  const upper: Bound | undefined =
    options.lte !== undefined
      ? { key: options.lte, inclusive: true }
      : options.lt !== undefined
        ? { key: options.lt, inclusive: false }
        : undefined;
  return { lower, upper, prefix: options.prefix, reverse, limit };
}

/** Whether `key` lies within the bounds of `range` (the prefix is checked separately). */
export function withinBounds(key: string, range: KeyRange): boolean {
  const { lower, upper } = range;
  if (lower !== undefined) {
    const c = compareKeys(key, lower.key);
    if (c < 0 || (c === 0 && !lower.inclusive)) return false;
  }
  if (upper !== undefined) {
    const c = compareKeys(key, upper.key);
    if (c > 0 || (c === 0 && !upper.inclusive)) return false;
  }
  return true;
}

/**
 * The smallest key above every key that starts with `prefix`, or `undefined` when there
 * is none (empty prefix, or only U+10FFFF). It is `prefix` with its last code point
 * incremented (skipping the surrogate range), after dropping trailing U+10FFFFs.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      return points.join("") + String.fromCodePoint(last + 1 === 0xd800 ? 0xe000 : last + 1);
    }
  }
  return undefined;
}
