import { setTimeout as delay } from "node:timers/promises";
import { AssignerProtocol, type Consumer } from "kafkajs";
import { decodeAssignmentData, type MemberAssignmentData } from "./member-user-data.js";

/** Reads of the group after a join before giving up on a group that does not settle. */
const ATTEMPTS = 10;
const RETRY_DELAY_MS = 200;

/**
 * The partition owners and standby partitions the leader put into this member's
 * assignment. kafkajs decodes the SyncGroup answer but drops its user data, so it is
 * read again with DescribeGroups,
 * which returns every member's assignment bytes, but only while the group is `Stable`
 * (the coordinator leaves them out during a rebalance). Tried again a few times while
 * `current()` holds (no newer join superseded this one); undefined when the group did
 * not settle, the member is gone, the leader wrote no owners (an older toka) or the
 * request failed: the next join reads them again.
 */
export async function readAssignmentData(
  consumer: Pick<Consumer, "describeGroup">,
  memberId: string,
  current: () => boolean,
): Promise<MemberAssignmentData | undefined> {
  for (let attempt = 0; attempt < ATTEMPTS && current(); attempt++) {
    if (attempt > 0) await delay(RETRY_DELAY_MS);
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
