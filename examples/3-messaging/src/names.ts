import { deadLetterTopic, loopTopic, tableTopic } from "@toka/processor";

/** The topics and groups of the messaging example. */
export interface MessagingNames {
  /** Messages as sent, keyed by sender. */
  readonly sent: string;
  /** Messages to deliver, keyed by recipient. */
  readonly received: string;
  /** Block and unblock commands, keyed by user. */
  readonly blockUser: string;
  /** New translations, keyed by word. */
  readonly translateWord: string;
  /** Keeps each user's last messages: its table is the inbox. */
  readonly collector: string;
  /** Keeps whether a user is blocked. */
  readonly blocker: string;
  /** Keeps the translation of each word. */
  readonly translator: string;
  /** Drops messages of blocked senders, translates, routes to the recipient. */
  readonly filter: string;
  /** Counts messages per user and blocks spammers. */
  readonly detector: string;
}

/**
 * The example's names; `suffix` is appended to every one of them, so several runs (tests)
 * share a broker without meeting each other.
 */
export function messagingNames(suffix = ""): MessagingNames {
  const name = (base: string) => (suffix ? `${base}-${suffix}` : base);
  return {
    sent: name("message-sent"),
    received: name("message-received"),
    blockUser: name("block-user"),
    translateWord: name("translate-word"),
    collector: name("collector"),
    blocker: name("blocker"),
    translator: name("translator"),
    filter: name("message-filter"),
    detector: name("spam-detector"),
  };
}

/** The input streams, created by the service with one partition count. */
export function streamsOf(names: MessagingNames): string[] {
  return [names.sent, names.received, names.blockUser, names.translateWord];
}

/** Every topic the example writes: the streams and each group's table, loop and dead letters. */
export function topicsOf(names: MessagingNames): string[] {
  const groups = [names.collector, names.blocker, names.translator, names.filter, names.detector];
  return [
    ...streamsOf(names),
    ...groups.flatMap((group) => [tableTopic(group), deadLetterTopic(group)]),
    loopTopic(names.detector),
  ];
}
