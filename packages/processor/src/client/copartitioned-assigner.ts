import { AssignerProtocol, type PartitionAssigner } from "kafkajs";
import { stickyAssignment } from "./sticky-assignment.js";

/**
 * A kafkajs partition assigner for co-partitioned topics: partition p of every
 * subscribed topic goes to the same member, so a group's inputs, loop and table of a
 * partition are always processed together. (kafkajs's round-robin assigner spreads the
 * partitions of each topic independently.) Sticky: each member reports the partitions
 * it owns in its subscription's user data, and a rebalance moves only what it must (see
 * {@link stickyAssignment}), so local state of a partition that stays is not re-read.
 *
 * @param owned the partitions the member owns now (empty before its first assignment)
 */
const NAME = "TokaCopartitioned";
const VERSION = 2;

export function copartitionedAssigner(owned: () => readonly number[]): PartitionAssigner {
  return ({ cluster }) => ({
    name: NAME,
    version: VERSION,
    async assign({ members, topics }) {
      const memberIds = members.map((m) => m.memberId).sort();
      const previous = new Map(members.map((m) => [m.memberId, ownedOf(m.memberMetadata)]));
      const partitionsOf = new Map(
        topics.map((topic) => [
          topic,
          new Set(cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId)),
        ]),
      );
      const numbers = [...new Set([...partitionsOf.values()].flatMap((s) => [...s]))];
      const shares = stickyAssignment(memberIds, previous, numbers);
      return memberIds.map((memberId) => {
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
            userData: Buffer.alloc(0),
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
          userData: Buffer.from(JSON.stringify(owned())),
        }),
      };
    },
  });
}

/** The partitions a member reported owning; none for user data of another form. */
function ownedOf(metadata: Buffer): number[] {
  try {
    const { userData } = AssignerProtocol.MemberMetadata.decode(metadata) ?? {};
    const parsed: unknown = userData?.length ? JSON.parse(userData.toString()) : [];
    return Array.isArray(parsed) ? parsed.filter((p): p is number => Number.isInteger(p)) : [];
  } catch {
    return [];
  }
}
