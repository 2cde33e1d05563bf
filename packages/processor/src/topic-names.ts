/** A Kafka topic name. */
export type TopicName = string & {};
/** A group (and consumer group) name. */
export type GroupName = string & {};

/** The compacted topic holding a group's table. */
export function tableTopic(group: GroupName): TopicName {
  return `${group}-table`;
}

/** The topic through which a group loops messages back to itself. */
export function loopTopic(group: GroupName): TopicName {
  return `${group}-loop`;
}

/** The dead-letter topic of a group. */
export function deadLetterTopic(group: GroupName): TopicName {
  return `${group}-dlq`;
}

/** The compacted topic holding the windows of a group's windowed aggregate `name`. */
export function windowsTopic(group: GroupName, name: string): TopicName {
  return `${group}-${name}-windows`;
}

/** The compacted topic holding a group's timers (and its table's time-to-live timers). */
export function timersTopic(group: GroupName): TopicName {
  return `${group}-timers`;
}

/** Header carrying the message ID (**contract**). */
export const ID_HEADER = "toka-id";
