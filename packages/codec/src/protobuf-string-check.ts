import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { describeValue } from "./codec-options.js";
import { isWellFormed } from "./utf8.js";

/**
 * Checks what protobuf-es does not before `toBinary`: a string field (also in lists,
 * map keys and values, oneofs and nested messages) holds a string without a lone
 * surrogate. protobuf-es writes a lone surrogate as U+FFFD and a non-string through
 * `String(value)` (`undefined` becomes the text "undefined"), so the decoded message
 * would differ from the encoded one without an error. It checks numbers itself.
 *
 * It also checks that list fields hold arrays and map fields hold objects (protobuf-es
 * would iterate a string given for a list). A checker is compiled per message type on
 * first use; a type with no string, list or map field anywhere below it gets none, so
 * checking it costs nothing.
 */

/** Where the check failed: field path from the root message, and what is wrong. */
export interface StringProblem {
  readonly path: (string | number)[];
  readonly reason: string;
}

/** google.protobuf.FeatureSet.FieldPresence.IMPLICIT: proto3 fields without `optional`. */
const IMPLICIT_PRESENCE = 2;

type Check = (message: Record<string, unknown>) => StringProblem | undefined;

const checkers = new WeakMap<DescMessage, Check | null>();
/** Message types whose checker is being compiled (recursive types). */
const compiling = new Set<DescMessage>();

/** @returns the first bad string in `message`, or `undefined`. */
export function findStringProblem(desc: DescMessage, message: object): StringProblem | undefined {
  const check = checkerFor(desc);
  return check === null ? undefined : check(message as Record<string, unknown>);
}

function checkerFor(desc: DescMessage): Check | null {
  const cached = checkers.get(desc);
  if (cached !== undefined) return cached;
  if (compiling.has(desc)) {
    // A recursive type: defer to the checker being compiled, looked up at call time.
    return (message) => checkers.get(desc)?.(message) ?? undefined;
  }
  compiling.add(desc);
  try {
    const fieldChecks = desc.fields
      .map(compileField)
      .filter((check): check is Check => check !== null);
    const check: Check | null =
      fieldChecks.length === 0
        ? null
        : (message) => {
            for (let i = 0; i < fieldChecks.length; i++) {
              const problem = fieldChecks[i]!(message);
              if (problem !== undefined) return problem;
            }
            return undefined;
          };
    checkers.set(desc, check);
    return check;
  } finally {
    compiling.delete(desc);
  }
}

/** A check of one value (no path yet), or null when the value cannot hold a string. */
type ValueCheck = (value: unknown) => StringProblem | undefined;

function compileField(field: DescField): Check | null {
  const name = field.localName;
  let checkValue: ValueCheck | null;
  switch (field.fieldKind) {
    case "scalar":
      checkValue = field.scalar === ScalarType.STRING ? checkString : null;
      break;
    case "message":
      checkValue = messageValueCheck(field.message);
      break;
    case "list": {
      const element =
        field.listKind === "scalar"
          ? field.scalar === ScalarType.STRING
            ? checkString
            : null
          : field.listKind === "message"
            ? messageValueCheck(field.message)
            : null;
      checkValue = (value) => checkList(value, element);
      break;
    }
    case "map": {
      const keyIsString = field.mapKey === ScalarType.STRING;
      const entry =
        field.mapKind === "scalar"
          ? field.scalar === ScalarType.STRING
            ? checkString
            : null
          : field.mapKind === "message"
            ? messageValueCheck(field.message)
            : null;
      checkValue = (value) => checkMap(value, keyIsString, entry);
      break;
    }
    default:
      checkValue = null;
  }
  if (checkValue === null) return null;
  const check = checkValue;
  const oneof = field.oneof?.localName;
  if (oneof !== undefined) {
    return (message) => {
      const selected = message[oneof] as { case?: unknown; value?: unknown } | undefined;
      if (selected?.case !== name) return undefined;
      return withPath(check(selected.value), name);
    };
  }
  // An unset proto3 string is "", not undefined; protobuf-es would write "undefined".
  const undefinedIsUnset = field.fieldKind !== "scalar" || field.presence !== IMPLICIT_PRESENCE;
  return (message) => {
    const value = message[name];
    if (value === undefined && undefinedIsUnset) return undefined;
    return withPath(check(value), name);
  };
}

function messageValueCheck(desc: DescMessage): ValueCheck | null {
  const check = checkerFor(desc);
  if (check === null) return null;
  // protobuf-es unboxes google.protobuf.StringValue fields to plain strings.
  const unboxed = desc.typeName === "google.protobuf.StringValue";
  return (value) => {
    if (unboxed && typeof value === "string") return checkString(value);
    // Anything else that is not an object is protobuf-es's to reject.
    if (typeof value !== "object" || value === null) return undefined;
    return check(value as Record<string, unknown>);
  };
}

function checkString(value: unknown): StringProblem | undefined {
  if (typeof value !== "string") {
    return { path: [], reason: `holds ${describeValue(value)}, not a string` };
  }
  return isWellFormed(value)
    ? undefined
    : { path: [], reason: "holds a string with a lone surrogate, which UTF-8 cannot carry" };
}

function checkList(value: unknown, element: ValueCheck | null): StringProblem | undefined {
  if (!Array.isArray(value))
    return { path: [], reason: `holds ${describeValue(value)}, not an array` };
  if (element === null) return undefined;
  for (let i = 0; i < value.length; i++) {
    const problem = withPath(element(value[i]), i);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function checkMap(
  value: unknown,
  keyIsString: boolean,
  entry: ValueCheck | null,
): StringProblem | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { path: [], reason: `holds ${describeValue(value)}, not a map object` };
  }
  if (!keyIsString && entry === null) return undefined;
  for (const [key, v] of Object.entries(value)) {
    if (keyIsString && !isWellFormed(key)) {
      return {
        path: [key],
        reason: "is a map key with a lone surrogate, which UTF-8 cannot carry",
      };
    }
    const problem = entry === null ? undefined : withPath(entry(v), key);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function withPath(problem: StringProblem | undefined, segment: string | number) {
  if (problem !== undefined) problem.path.unshift(segment);
  return problem;
}
