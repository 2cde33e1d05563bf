import { AssignerProtocol, type PartitionAssigner } from "kafkajs";
import {
  decodeSubscriptionData,
  encodeAssignmentData,
  encodeSubscriptionData,
  type MemberSubscriptionData,
  partitionOwners,
} from "./member-user-data.js";
import { standbyAssignment } from "./standby-assignment.js";
import { stickyAssignment } from "./sticky-assignment.js";

const NAME = "TokaCopartitioned";
const VERSION = 2;

/**
 * A kafkajs partition assigner for co-partitioned topics: partition p of every
 * subscribed topic goes to the same member, so a group's inputs, loop and table of a
 * partition are always processed together. (kafkajs's round-robin assigner spreads the
 * partitions of each topic independently.) Sticky: each member reports the partitions
 * it owns in its subscription's user data, and a rebalance moves only what it must (see
 * {@link stickyAssignment}), so local state of a partition that stays is not re-read.
 * Each member may also advertise its query service's address; the leader gives every
 * member the group's partition owners with their addresses in its assignment's user
 * data (`member-user-data.ts`), so that any instance can forward a query to a key's owner.
 * Members that ask for standby replicas are also told which partitions' tables to keep
 * standby copies of (see {@link standbyAssignment}); the most any member asks for counts.
 *
 * @param owned the partitions the member owns now (empty before its first assignment)
 * @param queryAddress the member's query service base URL, if it advertises one
 * @param stored the partitions the member holds local state of, owned or not, with the
 * table offset each reached
 * @param standbyReplicas standby replicas of each partition the member asks for
 */
export function copartitionedAssigner(
  owned: () => readonly number[],
  queryAddress?: string,
  stored: () => ReadonlyMap<number, number> = () => new Map(),
  standbyReplicas = 0,
): PartitionAssigner {
  return ({ cluster }) => ({
    name: NAME,
    version: VERSION,
    async assign({ members, topics }) {
      const memberIds = members.map((m) => m.memberId).sort();
      const subscriptions = new Map(
        members.map((m) => [m.memberId, subscriptionOf(m.memberMetadata)]),
      );
      const previous = new Map([...subscriptions].map(([id, s]) => [id, s.owned]));
      const held = new Map([...subscriptions].map(([id, s]) => [id, s.stored ?? new Map()]));
      const partitionsOf = new Map(
        topics.map((topic) => [
          topic,
          new Set(cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId)),
        ]),
      );
      const numbers = [...new Set([...partitionsOf.values()].flatMap((s) => [...s]))];
      const shares = stickyAssignment(memberIds, previous, numbers, held);
      // Partitions are numbered from 0; a topic with fewer is a co-partitioning error the
      // processor reports at start.
      const partitionCount = numbers.length === 0 ? 0 : Math.max(...numbers) + 1;
      const owners = partitionOwners(shares, subscriptions, partitionCount);
      const replicas = Math.max(
        0,
        ...[...subscriptions.values()].map((s) => s.standbyReplicas ?? 0),
      );
      const standby = standbyAssignment(
        shares,
        replicas,
        new Set(memberIds.filter((id) => subscriptions.get(id)!.standbyReplicas)),
        held,
      );
      return memberIds.map((memberId) => {
        const userData =
          partitionCount === 0
            ? Buffer.alloc(0)
            : encodeAssignmentData({ owners, standby: standby.get(memberId) ?? [] });
        const assignment: Record<string, number[]> = {};
        for (const [topic, present] of partitionsOf) {
          const mine = shares.get(memberId)!.filter((p) => present.has(p));
          if (mine.length > 0) assignment[topic] = mine;
        }
        return {
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: VERSION,
            assignment,
            userData,
          }),
        };
      });
    },
    protocol({ topics }) {
      return {
        name: NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: VERSION,
          topics,
          userData: encodeSubscriptionData({
            owned: owned(),
            stored: stored(),
            queryAddress,
            standbyReplicas,
          }),
        }),
      };
    },
  });
}

/** What a member reported (see `member-user-data.ts`); nothing for metadata of another form. */
function subscriptionOf(metadata: Buffer): MemberSubscriptionData {
  try {
    return decodeSubscriptionData(AssignerProtocol.MemberMetadata.decode(metadata)?.userData);
  } catch {
    return { owned: [] };
  }
}
