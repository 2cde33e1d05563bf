import { TokaError, TokaErrorCode } from "./errors.js";

/**
 * Runs `work` while heartbeating every `intervalMs`, and aborts the signal it is given
 * once a heartbeat reports that the group is giving this member's partitions out again.
 *
 * A write that is retried through a cluster's failover can take minutes; without
 * heartbeats the member's session would expire meanwhile, another member would take
 * the partition over, and a retry landing after that member's first writes would
 * overwrite its newer table records with older ones. Heartbeats keep the session, and
 * a lost membership stops the retries.
 */
export async function whileMember<T>(
  heartbeat: () => Promise<boolean>,
  intervalMs: number,
  work: (lost: AbortSignal) => Promise<T>,
): Promise<T> {
  const lost = new AbortController();
  const timer = setInterval(() => {
    heartbeat().then(
      (member) => {
        if (!member) lost.abort(membershipLost());
      },
      // A failed heartbeat (a coordinator moving) says nothing about the membership;
      // the next one tells.
      () => {},
    );
  }, intervalMs);
  try {
    return await work(lost.signal);
  } finally {
    clearInterval(timer);
  }
}

function membershipLost(): TokaError {
  return new TokaError(
    TokaErrorCode.ProduceFailed,
    "stopped writing: the group is giving this member's partitions to others (a rebalance, or its session expired); the batch is left to the partition's next owner",
  );
}
