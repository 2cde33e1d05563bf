/**
 * Finds the first part of a value that `JSON.stringify` would change or drop without
 * an error, so that `decode(encode(x))` is `x` or `encode` fails. What JSON does
 * silently, and what this reports:
 *
 * - `NaN` and `±Infinity` become `null`;
 * - `undefined`, functions and symbols in an array become `null`, at the top level they
 *   produce no JSON at all, and as an object property a function or symbol vanishes;
 * - a `Date` becomes a string, a `Map` or `Set` becomes `{}`, a typed array becomes an
 *   object of indices, a class instance loses its prototype, anything with `toJSON` is
 *   replaced by what that returns;
 * - a `bigint` throws (reported here with its path).
 *
 * An object property whose value is `undefined` is allowed: JSON omits it and the
 * decoded object lacks the key, which reads back as `undefined`.
 * `-0` is allowed too and comes back as `0`.
 */
export interface JsonLoss {
  /** Path from the root, e.g. `["items", 2, "at"]`. */
  readonly path: (string | number)[];
  /** What JSON would do to the value there, and what to use instead. */
  readonly reason: string;
}

/**
 * @returns the first lossy part of `value`, or `undefined` when JSON keeps it intact.
 *   Call it only on values `JSON.stringify` accepted: it does not guard against cycles.
 */
export function findJsonLoss(value: unknown): JsonLoss | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : loss(`${value} becomes null in JSON`);
    case "object":
      if (value === null) return undefined;
      return Array.isArray(value) ? findInArray(value) : findInObject(value);
    case "bigint":
      return loss(
        "a bigint has no JSON form; store it as a string (z.string(), or a z.codec that converts it to a bigint)",
      );
    default:
      return loss(`${describeType(value)} has no JSON form`);
  }
}

function findInArray(array: unknown[]): JsonLoss | undefined {
  for (let i = 0; i < array.length; i++) {
    const found = findJsonLoss(array[i]);
    if (found !== undefined) {
      found.path.unshift(i);
      return found;
    }
  }
  return undefined;
}

function findInObject(object: object): JsonLoss | undefined {
  const proto: unknown = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) return loss(describeInstance(object));
  const record = object as Record<string, unknown>;
  if (typeof record.toJSON === "function") {
    return loss("an object with a toJSON method is replaced by what toJSON returns");
  }
  // for-in rather than Object.keys: no array per object on this per-encode path. Only
  // plain objects get here, whose prototypes add no enumerable keys.
  for (const key in record) {
    const v = record[key];
    if (v === undefined) continue;
    const found = findJsonLoss(v);
    if (found !== undefined) {
      found.path.unshift(key);
      return found;
    }
  }
  return undefined;
}

function loss(reason: string): JsonLoss {
  return { path: [], reason };
}

function describeType(value: unknown): string {
  return value === undefined ? "undefined" : `a ${typeof value}`;
}

function describeInstance(object: object): string {
  if (object instanceof Date) {
    return "a Date becomes a string in JSON; store an ISO string (z.iso.datetime()) or use a z.codec from string to Date";
  }
  if (object instanceof Map || object instanceof Set) {
    return `a ${object.constructor.name} becomes {} in JSON; convert it to a plain object or an array`;
  }
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) {
    return "binary data becomes an object of indices in JSON; encode it as base64 text or use protobuf bytes";
  }
  const ctor = (object as { constructor?: { name?: unknown } }).constructor?.name;
  return `an instance of ${typeof ctor === "string" && ctor !== "" ? ctor : "a class"} loses its prototype in JSON; pass a plain object`;
}

/** `["items", 2, "at"]` as `$.items[2].at`, the notation error messages use. */
export function formatPath(path: readonly (string | number | symbol)[]): string {
  let out = "$";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && /^[A-Za-z_$][\w$]*$/.test(segment))
      out += `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/**
 * Path to the first own `__proto__` key in a parsed JSON value, or `undefined`. zod's
 * object and record parsing drops such keys (a prototype-pollution guard), so a value
 * validated by a schema would lose them without an error.
 */
export function findProtoKey(value: unknown): (string | number)[] | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findProtoKey(value[i]);
      if (found !== undefined) return [i, ...found];
    }
    return undefined;
  }
  for (const [key, v] of Object.entries(value)) {
    if (key === "__proto__") return [key];
    const found = findProtoKey(v);
    if (found !== undefined) return [key, ...found];
  }
  return undefined;
}

/**
 * Whether JSON `text` can hold a `__proto__` key at all: it must spell it out or use a
 * `\u` escape (the only way to write those letters otherwise). Cheap enough to run on
 * every decode, so {@link findProtoKey} walks only the rare text that passes.
 */
export function mayHoldProtoKey(text: string): boolean {
  return text.includes("__proto__") || text.includes("\\u");
}
