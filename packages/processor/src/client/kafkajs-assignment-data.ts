import { setTimeout as delay } from "node:timers/promises";
import { AssignerProtocol, type Consumer } from "kafkajs";
import { decodeAssignmentData, type MemberAssignmentData } from "./member-user-data.js";

/**
 * How long reads of the group go on after a join: through a coordinator that moves (a
 * broker died: its partitions' leaders move within the broker session timeout, 9 s by
 * default) and a group that takes a while to settle.
 */
const READ_DEADLINE_MS = 30_000;
const FIRST_RETRY_DELAY_MS = 200;
const MAX_RETRY_DELAY_MS = 2_000;

/**
 * The partition owners and standby partitions the leader put into this member's
 * assignment. kafkajs decodes the SyncGroup answer but drops its user data, so it is
 * read again with DescribeGroups, which returns every member's assignment bytes, but
 * only while the group is `Stable` (the coordinator leaves them out during a rebalance).
 * Tried again with backoff for up to `deadlineMs` while `current()` holds (no newer join
 * superseded this one, the consumer is not disconnecting); undefined when the group did
 * not settle, the member is gone, the leader wrote none (an older toka) or every request
 * failed: the next join reads them again.
 */
export async function readAssignmentData(
  consumer: Pick<Consumer, "describeGroup">,
  memberId: string,
  current: () => boolean,
  { deadlineMs = READ_DEADLINE_MS, firstRetryDelayMs = FIRST_RETRY_DELAY_MS } = {},
): Promise<MemberAssignmentData | undefined> {
  const deadline = Date.now() + deadlineMs;
  let wait = firstRetryDelayMs;
  for (let attempt = 0; current(); attempt++) {
    if (attempt > 0) {
      if (Date.now() + wait > deadline) return undefined;
      await delay(wait);
      wait = Math.min(wait * 2, MAX_RETRY_DELAY_MS);
      if (!current()) return undefined;
    }
    try {
      const group = await consumer.describeGroup();
      const member = group.members.find((m) => m.memberId === memberId);
      if (group.state !== "Stable" || !member || member.memberAssignment.length === 0) continue;
      return decodeAssignmentData(
        AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.userData,
      );
    } catch {
      // A coordinator moving: the next attempt finds the new one.
    }
  }
  return undefined;
}
