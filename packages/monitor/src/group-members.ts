import { type Admin, AssignerProtocol } from "kafkajs";

/** A running instance of a group, as the broker's group coordinator knows it. */
export interface GroupMember {
  readonly memberId: string;
  readonly clientId: string;
  /** The address the member connected from, as the broker saw it. */
  readonly host: string;
  /** Partitions assigned to it, by topic. */
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

/** The state of a consumer group and its members. */
export interface GroupDescription {
  readonly group: string;
  /** The coordinator's state: `Stable`, `PreparingRebalance`, `Empty`, `Dead`, ... */
  readonly state: string;
  readonly members: readonly GroupMember[];
}

/**
 * Describes a consumer group: its members and what each was assigned. toka's
 * co-partitioned assigner writes the standard consumer-protocol assignment, so the
 * kafkajs decoder reads it; an assignment of another form shows as none.
 */
export async function describeGroup(admin: Admin, group: string): Promise<GroupDescription> {
  const { groups } = await admin.describeGroups([group]);
  const described = groups[0];
  if (!described) return { group, state: "Dead", members: [] };
  return {
    group,
    state: described.state,
    members: described.members.map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      host: m.clientHost,
      assignment: assignmentOf(m.memberAssignment),
    })),
  };
}

function assignmentOf(bytes: Buffer): Record<string, number[]> {
  try {
    return bytes.length === 0
      ? {}
      : (AssignerProtocol.MemberAssignment.decode(bytes)?.assignment ?? {});
  } catch {
    return {};
  }
}
