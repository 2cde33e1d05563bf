/**
 * Header names of event-sourcing records (**contract**: readers outside toka may rely
 * on them). Values are decimal strings where they are numbers.
 */
export const EventHeader = {
  /** The event's type, e.g. `deposited` (from the aggregate's `eventType`). */
  Type: "toka-event-type",
  /** The aggregate's version after this event: 1 for its first event, then +1 per event. */
  AggregateVersion: "toka-aggregate-version",
  /** The schema version of the event's encoding, for upcasting old events. */
  SchemaVersion: "toka-event-version",
  /** The `toka-id` of the command that caused the event (or the rejection). */
  CommandId: "toka-command-id",
  /** How many events the causing command produced; each of them carries it. */
  CommandEvents: "toka-command-events",
  /** On a command: the aggregate version it expects (optimistic concurrency). */
  ExpectedVersion: "toka-expected-version",
} as const;
export type EventHeader = (typeof EventHeader)[keyof typeof EventHeader];
