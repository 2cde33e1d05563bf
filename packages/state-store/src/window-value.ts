/*
 * A window's stored bytes: its end (8 bytes, big-endian), then its value. The window store
 * keeps windows so, and a windowed table topic's records carry the same bytes.
 */

/** Bytes of the end in front of a window's value. */
export const END_BYTES = 8;

/** The value of a window's record in its windowed table topic. */
export function windowRecordValue(end: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(END_BYTES + value.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(end / 2 ** 32));
  view.setUint32(4, end % 2 ** 32);
  out.set(value, END_BYTES);
  return out;
}

/** The end and value of a window record's value; `undefined` when it is too short. */
export function readWindowRecordValue(
  data: Uint8Array,
): { readonly end: number; readonly value: Uint8Array } | undefined {
  if (data.length < END_BYTES) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    end: view.getUint32(0) * 2 ** 32 + view.getUint32(4),
    value: data.subarray(END_BYTES),
  };
}
