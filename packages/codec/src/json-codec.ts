import * as z from "zod";
import type { $ZodType, output } from "zod/v4/core";
import { globalRegistry, safeEncode, safeParse } from "zod/v4/core";
import type { Codec } from "./codec.js";
import { CodecError, CodecErrorCode } from "./codec-error.js";
import {
  type CodecOptions,
  checkDecodeInput,
  codecOptionsShape,
  DEFAULT_MAX_BYTES,
  describeError,
  describeValue,
  parseOptions,
  tooLarge,
} from "./codec-options.js";
import { findJsonLoss, findProtoKey, formatPath, mayHoldProtoKey } from "./json-loss.js";
import { decodeUtf8, encodeUtf8 } from "./utf8.js";

/** Options of {@link jsonCodec}. */
export interface JsonCodecOptions extends CodecOptions {
  /**
   * Make `encode` fail on values JSON would change without an error: `NaN` and
   * `Infinity` (become `null`), `Date` (becomes a string), `Map`/`Set` (become `{}`),
   * class instances (lose their prototype), `undefined` in arrays, functions,
   * `bigint`. With it, `decode(encode(x))` equals `x` or `encode` throws. Turning it
   * off saves one walk over the value. Default `true`.
   */
  rejectLossyValues?: boolean;
}

const optionsSchema = z.object({
  ...codecOptionsShape,
  rejectLossyValues: z.boolean().optional(),
});

/** How many schema issues an error message lists; all of them are in `cause.issues`. */
const MAX_ISSUES_IN_MESSAGE = 3;

/**
 * A codec for JSON as UTF-8 text, validated by a zod 4 schema on decode *and* on
 * encode; the value type is the schema's output type.
 *
 * Encoding runs the schema backwards (`z.encode`): a `z.codec(z.iso.datetime(), z.date())`
 * field is a `Date` in TypeScript and an ISO string in the JSON. A schema with a one-way
 * `.transform()` cannot encode: use `z.codec()` for such fields. Unknown object keys
 * are stripped on both sides unless the schema is `z.looseObject`/`.passthrough()`.
 *
 * - `decode` throws `CODEC_TOO_LARGE` past `maxBytes`, `CODEC_MALFORMED` for bytes that
 *   are not UTF-8 JSON, `CODEC_SCHEMA_VIOLATION` (with the `ZodError` as `cause`) for
 *   JSON that does not match the schema.
 * - `encode` throws `CODEC_ENCODE_FAILED` for a value that does not match the schema
 *   (`cause` is the `ZodError`) or that JSON would change (see
 *   {@link JsonCodecOptions.rejectLossyValues}), `CODEC_TOO_LARGE` past `maxBytes`.
 *
 * JSON numbers are IEEE doubles: integers beyond 2^53 lose precision in any JSON
 * parser, so carry such ids as strings. zod drops object keys named `__proto__` (a
 * prototype-pollution guard): `decode` rejects JSON holding one as
 * `CODEC_SCHEMA_VIOLATION`, and `encode` cannot see it, so do not use that key.
 *
 * @param schema - any zod 4 schema (`zod` or `zod/mini`). Its registry `id` or
 *   `title` (`.meta({ id: "Deposit" })`) names the codec: `json(Deposit)`.
 * @param options - `name` (default `json(<id>)` or `json`), `maxBytes` (default 16 MiB),
 *   `rejectLossyValues` (default `true`).
 * @throws CodecError `CODEC_INVALID_OPTIONS` for invalid options.
 *
 * @example
 * ```ts
 * const Deposit = z.object({ account: z.string(), amount: z.number().positive() });
 * const codec = jsonCodec(Deposit);             // Codec<{ account: string; amount: number }>
 * codec.decode(codec.encode({ account: "alice", amount: 5 }));
 * ```
 */
export function jsonCodec<S extends $ZodType>(
  schema: S,
  options?: JsonCodecOptions,
): Codec<output<S>>;
/**
 * Plain JSON without validation, typed `unknown` or as the type argument
 * (`jsonCodec<Deposit>()`). The type argument is trusted, not checked: decoding
 * returns whatever JSON the bytes hold.
 *
 * - `decode` throws `CODEC_TOO_LARGE` past `maxBytes` and `CODEC_MALFORMED` for bytes
 *   that are not UTF-8 JSON.
 * - `encode` throws `CODEC_ENCODE_FAILED` for a value with no JSON form (a cycle, a
 *   `bigint`, `undefined`) or one JSON would change (see
 *   {@link JsonCodecOptions.rejectLossyValues}), `CODEC_TOO_LARGE` past `maxBytes`.
 *
 * @param options - `name` (default `json`), `maxBytes` (default 16 MiB),
 *   `rejectLossyValues` (default `true`).
 * @throws CodecError `CODEC_INVALID_OPTIONS` for invalid options.
 */
export function jsonCodec<T = unknown>(options?: JsonCodecOptions): Codec<T>;
export function jsonCodec(
  schemaOrOptions?: $ZodType | JsonCodecOptions,
  maybeOptions?: JsonCodecOptions,
): Codec<unknown> {
  const schema = isZodSchema(schemaOrOptions) ? schemaOrOptions : undefined;
  const rawOptions = schema === undefined ? schemaOrOptions : maybeOptions;
  if (schema === undefined) rejectForeignSchema(rawOptions);
  const resolved = parseOptions("json", optionsSchema, rawOptions);
  const name = resolved.name ?? defaultName(schema);
  const config: JsonConfig = {
    name,
    maxBytes: resolved.maxBytes ?? DEFAULT_MAX_BYTES,
    rejectLossyValues: resolved.rejectLossyValues ?? true,
  };
  if (schema === undefined) {
    return {
      name,
      encode: (value) => stringify(config, value),
      decode: (bytes) => parse(config, bytes),
    };
  }
  return {
    name,
    encode: (value) => stringify(config, encodeWithSchema(name, schema, value)),
    decode: (bytes) => validate(name, schema, parse(config, bytes, true)),
  };
}

interface JsonConfig {
  readonly name: string;
  readonly maxBytes: number;
  readonly rejectLossyValues: boolean;
}

function isZodSchema(x: unknown): x is $ZodType {
  return typeof x === "object" && x !== null && "_zod" in x;
}

/** A zod 3 schema would otherwise be read as an options object with unknown keys. */
function rejectForeignSchema(x: unknown): void {
  if (typeof x === "object" && x !== null && "_def" in x && "safeParse" in x) {
    throw new CodecError(
      CodecErrorCode.InvalidOptions,
      "json",
      'the schema is not a zod 4 schema (it looks like zod 3). Build it with zod 4: import * as z from "zod".',
    );
  }
}

function defaultName(schema: $ZodType | undefined): string {
  if (schema === undefined) return "json";
  const meta = globalRegistry.get(schema);
  const label = meta?.id ?? meta?.title;
  return typeof label === "string" && label !== "" ? `json(${label})` : "json";
}

function encodeWithSchema(name: string, schema: $ZodType, value: unknown): unknown {
  let result: ReturnType<typeof safeEncode>;
  try {
    result = safeEncode(schema, value);
  } catch (cause) {
    // z.encode throws (rather than failing) on a one-way .transform() and on async checks.
    throw new CodecError(
      CodecErrorCode.EncodeFailed,
      name,
      `the schema cannot encode values: ${describeError(cause)}. ` +
        "Replace one-way .transform() steps with z.codec() and async refinements with sync ones.",
      { cause },
    );
  }
  if (!result.success) {
    throw new CodecError(
      CodecErrorCode.EncodeFailed,
      name,
      `the value does not match the schema: ${formatIssues(result.error.issues)}. ` +
        "Fix the value before emitting it; every issue is in cause.issues.",
      { cause: result.error },
    );
  }
  return result.data;
}

function validate(name: string, schema: $ZodType, value: unknown): unknown {
  let result: ReturnType<typeof safeParse>;
  try {
    result = safeParse(schema, value);
  } catch (cause) {
    throw new CodecError(
      CodecErrorCode.SchemaViolation,
      name,
      `the schema threw while validating: ${describeError(cause)}. ` +
        "Refinements must not throw (return false instead) and must be synchronous.",
      { cause },
    );
  }
  if (!result.success) {
    throw new CodecError(
      CodecErrorCode.SchemaViolation,
      name,
      `the JSON does not match the schema: ${formatIssues(result.error.issues)}. ` +
        "The producer wrote another shape or version; every issue is in cause.issues.",
      { cause: result.error },
    );
  }
  return result.data;
}

function stringify(config: JsonConfig, value: unknown): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    // A bigint or a cycle. Name the bigint's path; a cycle has no useful one.
    const found = findLossSafely(value);
    throw new CodecError(
      CodecErrorCode.EncodeFailed,
      config.name,
      found === undefined
        ? `the value has no JSON form: ${describeError(cause)}. Break reference cycles before encoding.`
        : `the value has no JSON form at ${formatPath(found.path)}: ${found.reason}.`,
      { cause },
    );
  }
  if (text === undefined) {
    throw new CodecError(
      CodecErrorCode.EncodeFailed,
      config.name,
      `${describeValue(value)} has no JSON form. ` +
        "To delete a table value use ctx.delete(); encode null to store a JSON null.",
    );
  }
  if (config.rejectLossyValues) {
    const found = findJsonLoss(value);
    if (found !== undefined) {
      throw new CodecError(
        CodecErrorCode.EncodeFailed,
        config.name,
        `JSON would change the value at ${formatPath(found.path)}: ${found.reason}. ` +
          "Fix the value, or set rejectLossyValues: false to accept the change.",
      );
    }
  }
  // JSON.stringify escapes lone surrogates, so the text is well-formed and UTF-8 keeps it intact.
  const bytes = encodeUtf8(text);
  if (bytes.byteLength > config.maxBytes) {
    throw tooLarge(config.name, "encode", bytes.byteLength, config.maxBytes);
  }
  return bytes;
}

function findLossSafely(value: unknown) {
  try {
    return findJsonLoss(value);
  } catch {
    return undefined; // a cycle overflows the walk; the caller reports stringify's error
  }
}

function parse(config: JsonConfig, bytes: Uint8Array, forSchema = false): unknown {
  checkDecodeInput(config.name, bytes, config.maxBytes);
  let text: string;
  try {
    text = decodeUtf8(bytes);
  } catch (cause) {
    throw new CodecError(
      CodecErrorCode.Malformed,
      config.name,
      "the bytes are not valid UTF-8, so not JSON. The producer wrote binary data or another encoding to this topic.",
      { cause },
    );
  }
  // RFC 8259 §8.1 lets a parser ignore a byte-order mark; this codec never writes one.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new CodecError(
      CodecErrorCode.Malformed,
      config.name,
      `the bytes are not valid JSON (${describeError(cause)}). ` +
        "The producer wrote another format to this topic, or the record was cut short.",
      { cause },
    );
  }
  if (forSchema && mayHoldProtoKey(text)) {
    const path = findProtoKey(value);
    if (path !== undefined) {
      throw new CodecError(
        CodecErrorCode.SchemaViolation,
        config.name,
        `the JSON has a "__proto__" key at ${formatPath(path)}, which zod drops without an error ` +
          "(a prototype-pollution guard). Rename the key at the producer.",
      );
    }
  }
  return value;
}

function formatIssues(
  issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[],
): string {
  const shown = issues
    .slice(0, MAX_ISSUES_IN_MESSAGE)
    .map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  const more = issues.length - shown.length;
  return shown.join("; ") + (more > 0 ? ` (and ${more} more)` : "");
}
