package dev.toka.bench;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The Kafka Streams peer of the peer benchmark (bench/peers.bench.ts): a topology with
 * Kafka Streams' defaults (RocksDB store with a changelog, record cache) that either
 * counts and sums counter samples per key (workload a), materializes change data
 * capture rows with {@code builder.table} (workload c), or aggregates sensor readings
 * into one-minute tumbling windows (min, max, sum, count) and writes only each window's
 * final result, once stream time passed its end and grace (workload w). Settings come
 * from the environment, like the Goka peer: KAFKA_BROKERS, BENCH_WORKLOAD (counter |
 * cdc | windows), BENCH_GRACE_MS (windows),
 * BENCH_PHASE (process | restore), BENCH_MODE (the processing.guarantee), BENCH_INPUT,
 * BENCH_MESSAGES, BENCH_PARTITIONS, BENCH_GROUP (the application.id), BENCH_STATE_DIR.
 * Prints JSON lines: {"event":"ready"} once running, then {"event":"result",...}.
 */
public final class StreamsPeer {
  private static final String STORE = "rows";

  private StreamsPeer() {}

  private static String env(String name) {
    String value = System.getenv(name);
    if (value == null || value.isEmpty()) throw new IllegalArgumentException(name + " is not set");
    return value;
  }

  /** A counter's count and sum as two big-endian longs. */
  private static final Serde<long[]> TOTALS =
      Serdes.serdeFrom(
          (topic, t) -> ByteBuffer.allocate(16).putLong(t[0]).putLong(t[1]).array(),
          (topic, bytes) -> {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            return new long[] {buffer.getLong(), buffer.getLong()};
          });

  /** A window's min, max, sum and count of readings as four big-endian longs. */
  private static final Serde<long[]> STATS =
      Serdes.serdeFrom(
          (topic, s) -> ByteBuffer.allocate(32).putLong(s[0]).putLong(s[1]).putLong(s[2]).putLong(s[3]).array(),
          (topic, bytes) -> {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            return new long[] {buffer.getLong(), buffer.getLong(), buffer.getLong(), buffer.getLong()};
          });

  public static void main(String[] args) throws Exception {
    String workload = env("BENCH_WORKLOAD");
    String phase = env("BENCH_PHASE");
    String mode = env("BENCH_MODE");
    String input = env("BENCH_INPUT");
    long expected = Long.parseLong(env("BENCH_MESSAGES"));
    int partitions = Integer.parseInt(env("BENCH_PARTITIONS"));

    Properties props = new Properties();
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, env("KAFKA_BROKERS"));
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, env("BENCH_GROUP"));
    props.put(StreamsConfig.STATE_DIR_CONFIG, env("BENCH_STATE_DIR"));
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, mode);
    // Kafka Streams' main consumer does not leave its group on close by default, so the
    // empty instance that restores next would wait for the session timeout (45 s) of the
    // member that just stopped before it gets the partitions. The other contenders leave.
    props.put(StreamsConfig.mainConsumerPrefix("internal.leave.group.on.close"), true);

    AtomicLong processed = new AtomicLong();
    CountDownLatch done = new CountDownLatch(1);
    Runnable count =
        () -> {
          if (processed.incrementAndGet() == expected) done.countDown();
        };
    AtomicLong finals = new AtomicLong();
    StreamsBuilder builder = new StreamsBuilder();
    if (workload.equals("windows")) {
      Duration grace = Duration.ofMillis(Long.parseLong(env("BENCH_GRACE_MS")));
      builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
          .groupByKey()
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(1), grace))
          .aggregate(
              () -> new long[] {Long.MAX_VALUE, Long.MIN_VALUE, 0, 0},
              (key, reading, s) -> {
                count.run();
                long value = Long.parseLong(reading);
                return new long[] {Math.min(s[0], value), Math.max(s[1], value), s[2] + value, s[3] + 1};
              },
              Materialized.<String, long[], org.apache.kafka.streams.state.WindowStore<Bytes, byte[]>>as(
                      STORE)
                  .withValueSerde(STATS))
          .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
          .toStream((window, s) -> window.key() + "@" + window.window().start())
          .peek((key, s) -> finals.incrementAndGet())
          .to(input + "-out", Produced.with(Serdes.String(), STATS));
    } else if (workload.equals("cdc")) {
      // A table source has no per-record hook; the timestamp extractor runs for each
      // record just before the record is processed.
      builder.table(
          input,
          Consumed.with(Serdes.String(), Serdes.Bytes())
              .withTimestampExtractor(
                  (record, previous) -> {
                    count.run();
                    return record.timestamp();
                  }),
          Materialized.<String, Bytes, org.apache.kafka.streams.state.KeyValueStore<Bytes, byte[]>>as(
              STORE));
    } else {
      builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
          .groupByKey()
          .aggregate(
              () -> new long[] {0, 0},
              (key, amount, t) -> {
                count.run();
                return new long[] {t[0] + 1, t[1] + Long.parseLong(amount)};
              },
              Materialized.<String, long[], org.apache.kafka.streams.state.KeyValueStore<Bytes, byte[]>>as(
                      STORE)
                  .withValueSerde(TOTALS));
    }

    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    CountDownLatch running = new CountDownLatch(1);
    AtomicInteger restored = new AtomicInteger();
    streams.setStateListener(
        (next, previous) -> {
          if (next == KafkaStreams.State.RUNNING) running.countDown();
          if (next == KafkaStreams.State.ERROR) {
            say("failed", "\"message\":\"Kafka Streams entered ERROR\"");
            System.exit(1);
          }
        });
    streams.setGlobalStateRestoreListener(
        new StateRestoreListener() {
          @Override
          public void onRestoreStart(TopicPartition tp, String store, long start, long end) {}

          @Override
          public void onBatchRestored(TopicPartition tp, String store, long end, long n) {}

          @Override
          public void onRestoreEnd(TopicPartition tp, String store, long total) {
            restored.incrementAndGet();
          }
        });

    long started = System.nanoTime();
    streams.start();
    running.await();
    if (phase.equals("restore")) {
      // Restoration may continue after RUNNING; the table is whole once every changelog
      // partition finished restoring.
      while (restored.get() < partitions) TimeUnit.MILLISECONDS.sleep(5);
    }
    long readyAt = System.nanoTime();
    say("ready", null);

    StringBuilder result = new StringBuilder();
    result.append(String.format(Locale.ROOT, "\"mode\":\"%s\",\"phase\":\"%s\"", mode, phase));
    if (phase.equals("restore")) {
      result.append(String.format(Locale.ROOT, ",\"seconds\":%.3f", (readyAt - started) / 1e9));
    } else {
      done.await();
      double seconds = (System.nanoTime() - readyAt) / 1e9;
      result.append(
          String.format(
              Locale.ROOT,
              ",\"messages\":%d,\"seconds\":%.3f,\"perSecond\":%.1f",
              processed.get(),
              seconds,
              processed.get() / seconds));
    }
    if (workload.equals("cdc")) {
      ReadOnlyKeyValueStore<String, Object> store =
          streams.store(StoreQueryParameters.fromNameAndType(STORE, QueryableStoreTypes.keyValueStore()));
      long rows = 0;
      try (KeyValueIterator<String, Object> all = store.all()) {
        while (all.hasNext()) {
          KeyValue<String, Object> ignored = all.next();
          rows++;
        }
      }
      result.append(",\"rows\":").append(rows);
    }
    // Finals written by the time every reading was aggregated, and once closing flushed
    // the record cache: the rest wait for stream time to pass their windows' grace.
    long finalsWhenDone = finals.get();
    streams.close(Duration.ofSeconds(60));
    if (workload.equals("windows"))
      result
          .append(",\"finalsWhenDone\":")
          .append(finalsWhenDone)
          .append(",\"finals\":")
          .append(finals.get());
    say("result", result.toString());
    System.exit(0);
  }

  private static void say(String event, String fields) {
    System.out.println("{\"event\":\"" + event + "\"" + (fields == null ? "" : "," + fields) + "}");
    System.out.flush();
  }
}
