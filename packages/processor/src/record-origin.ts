/**
 * Where a record that a toka group produced came from: the `index`-th record (1 for the
 * first) that processing the input at `offset` of `source` produced. One source's records
 * reach a partition in this order, and a redo after a crash or rebalance produces the
 * same ones again, so a record at or before the last one applied from its source is a
 * copy, however many other messages the key applied in between.
 */
export interface Origin {
  /** `<partition>/<topic>/<group>`: the input partition of the group that produced it. */
  readonly source: string;
  readonly offset: number;
  readonly index: number;
}

/** Header of records that toka groups produce, carrying their {@link Origin}. */
export const ORIGIN_HEADER = "toka-origin";

/** An {@link Origin}'s `source`: the group's input partition. */
export function originSource(group: string, topic: string, partition: number): string {
  return `${partition}/${topic}/${group}`;
}

/** The {@link ORIGIN_HEADER} value: `<offset>.<index>/<source>`. */
export function originHeader(source: string, offset: string, index: number): string {
  return `${offset}.${index}/${source}`;
}

/** Reads an {@link ORIGIN_HEADER} value; `undefined` when it is none. */
export function parseOrigin(header: string | undefined): Origin | undefined {
  const parts = header === undefined ? null : ORIGIN_FORMAT.exec(header);
  if (parts === null) return undefined;
  const offset = Number(parts[1]);
  const index = Number(parts[2]);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(index) || index < 1) return undefined;
  return { source: parts[3]!, offset, index };
}

const ORIGIN_FORMAT = /^(\d+)\.(\d+)\/(.+)$/s;
