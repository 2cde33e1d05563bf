/**
 * The Metadata request (API key 3) in version 4, the first that can ask a broker not to
 * create a missing topic, and non-flexible (every broker since Kafka 1.0 answers it;
 * Kafka 4 answers 0-13).
 *
 *   Metadata Request (Version: 4) => [topics] allow_auto_topic_creation
 *     topics => name STRING
 *     allow_auto_topic_creation => BOOLEAN
 *
 *   Metadata Response (Version: 4) => throttle_time_ms [brokers] cluster_id controller_id [topics]
 *     brokers => node_id INT32 host STRING port INT32 rack NULLABLE_STRING
 *     cluster_id => NULLABLE_STRING
 *     controller_id => INT32
 *     topics => error_code INT16 name STRING is_internal BOOLEAN [partitions]
 *       partitions => error_code INT16 partition_index INT32 leader_id INT32
 *                     [replica_nodes] [isr_nodes]
 */
export const METADATA_API_KEY = 3;
export const METADATA_VERSION = 4;

export interface MetadataBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface MetadataPartition {
  readonly partition: number;
  readonly errorCode: number;
  /** -1 while the partition has no leader. */
  readonly leader: number;
}

export interface MetadataTopic {
  readonly topic: string;
  /** 3 (UNKNOWN_TOPIC_OR_PARTITION) while the broker does not know the topic (yet). */
  readonly errorCode: number;
  readonly partitions: readonly MetadataPartition[];
}

export interface MetadataResponse {
  readonly brokers: readonly MetadataBroker[];
  readonly topics: readonly MetadataTopic[];
}

/** Asks for `topics` (none: only the brokers), never creating a missing one. */
export function encodeMetadataRequest(topics: readonly string[]): Buffer {
  const names = topics.map((t) => Buffer.from(t));
  const out = Buffer.alloc(4 + names.reduce((sum, n) => sum + 2 + n.byteLength, 0) + 1);
  let at = out.writeInt32BE(names.length, 0);
  for (const name of names) {
    at = out.writeInt16BE(name.byteLength, at);
    at += name.copy(out, at);
  }
  out.writeInt8(0, at); // allow_auto_topic_creation: false
  return out;
}

/** Decodes a Metadata v4 response body (after the correlation ID). */
export function decodeMetadataResponse(body: Buffer): MetadataResponse {
  let at = 4; // throttle time
  const string = () => {
    const length = body.readInt16BE(at);
    at += 2;
    const value = length < 0 ? "" : body.toString("utf8", at, at + length);
    at += Math.max(0, length);
    return value;
  };
  const skipInt32Array = () => {
    at += 4 + 4 * body.readInt32BE(at);
  };
  const brokers: MetadataBroker[] = [];
  const brokerCount = body.readInt32BE(at);
  at += 4;
  for (let b = 0; b < brokerCount; b++) {
    const nodeId = body.readInt32BE(at);
    at += 4;
    const host = string();
    const port = body.readInt32BE(at);
    at += 4;
    string(); // rack
    brokers.push({ nodeId, host, port });
  }
  string(); // cluster ID
  at += 4; // controller ID
  const topics: MetadataTopic[] = [];
  const topicCount = body.readInt32BE(at);
  at += 4;
  for (let t = 0; t < topicCount; t++) {
    const errorCode = body.readInt16BE(at);
    at += 2;
    const topic = string();
    at += 1; // is internal
    const partitions: MetadataPartition[] = [];
    const partitionCount = body.readInt32BE(at);
    at += 4;
    for (let p = 0; p < partitionCount; p++) {
      partitions.push({
        errorCode: body.readInt16BE(at),
        partition: body.readInt32BE(at + 2),
        leader: body.readInt32BE(at + 6),
      });
      at += 10;
      skipInt32Array(); // replicas
      skipInt32Array(); // in-sync replicas
    }
    topics.push({ topic, errorCode, partitions });
  }
  return { brokers, topics };
}
