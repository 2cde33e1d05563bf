import { AssignerProtocol, type PartitionAssigner } from "kafkajs";

/**
 * A kafkajs partition assigner for co-partitioned topics: partition p of every
 * subscribed topic goes to the same member, so a group's inputs, loop and table of a
 * partition are always processed together. (kafkajs's round-robin assigner spreads the
 * partitions of each topic independently.) Members are ordered by member ID and
 * partition p goes to member p mod n.
 */
const NAME = "TokaCopartitioned";
const VERSION = 1;

export const copartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: NAME,
  version: VERSION,
  async assign({ members, topics }) {
    const memberIds = members.map((m) => m.memberId).sort();
    const assignment = new Map<string, Record<string, number[]>>(memberIds.map((id) => [id, {}]));
    for (const topic of topics) {
      const partitions = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
      for (const partition of partitions) {
        const owner = memberIds[partition % memberIds.length]!;
        const byTopic = assignment.get(owner)!;
        byTopic[topic] = [...(byTopic[topic] ?? []), partition];
      }
    }
    return memberIds.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: VERSION,
        assignment: assignment.get(memberId)!,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: NAME,
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: VERSION,
        topics,
        userData: Buffer.alloc(0),
      }),
    };
  },
});
