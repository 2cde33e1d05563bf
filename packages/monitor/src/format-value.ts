/** How the CLI shows raw bytes. */
export const ValueFormat = {
  /** JSON when the bytes are UTF-8 JSON, else text when printable UTF-8, else hex. */
  Auto: "auto",
  Json: "json",
  Text: "text",
  Hex: "hex",
  Base64: "base64",
} as const;
export type ValueFormat = (typeof ValueFormat)[keyof typeof ValueFormat];

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Raw bytes as a JSON-compatible value in `format`. */
export function formatBytes(bytes: Uint8Array | null, format: ValueFormat): unknown {
  if (bytes === null) return null;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === "hex") return buffer.toString("hex");
  if (format === "base64") return buffer.toString("base64");
  let text: string | undefined;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    text = undefined;
  }
  if (format === "text") return text ?? buffer.toString("utf8");
  if (text !== undefined) {
    try {
      return JSON.parse(text);
    } catch {
      if (format === "json") return text;
    }
    if (!hasControlCharacters(text)) return text;
  }
  return format === "json" ? buffer.toString("base64") : `0x${buffer.toString("hex")}`;
}

/**
 * JSON of a decoded value: bigints as strings, bytes as base64, protobuf-es internals
 * (`$typeName`, `$unknown`) left out, `undefined` as null.
 */
export function toJson(value: unknown, indent?: number): string {
  return (
    JSON.stringify(
      value,
      (key, v: unknown) => {
        if (key.startsWith("$")) return undefined;
        if (typeof v === "bigint") return v.toString();
        if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
        return v;
      },
      indent,
    ) ?? "null"
  );
}

/** Control characters other than tab, line feed and carriage return suggest binary data. */
function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return true;
  }
  return false;
}
