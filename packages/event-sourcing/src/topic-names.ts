/** The commands topic of an aggregate: `<aggregate>-commands`. */
export function commandsTopic(aggregate: string): string {
  return `${aggregate}-commands`;
}

/** The event log of an aggregate: `<aggregate>-events` (infinite retention). */
export function eventsTopic(aggregate: string): string {
  return `${aggregate}-events`;
}

/** Where an aggregate writes its rejected commands: `<aggregate>-rejections`. */
export function rejectionsTopic(aggregate: string): string {
  return `${aggregate}-rejections`;
}

/** The compacted topic that maps aliases (e.g. a projection's name) to tables. */
export const ALIASES_TOPIC = "toka-table-aliases";
