// The Goka peer of the peer benchmark (bench/peers.bench.ts): a processor with Goka's
// defaults (LevelDB storage, group table) that either counts and sums counter samples per
// key (workload a) or materializes change data capture rows, deleting on tombstones
// (workload c). Settings come from the environment, like bench/processor-pipeline.ts:
//
//	KAFKA_BROKERS    host:port,...
//	BENCH_WORKLOAD   counter | cdc
//	BENCH_PHASE      process: consume BENCH_MESSAGES messages of BENCH_INPUT
//	                 restore: start with an empty state dir and recover the group table
//	BENCH_INPUT      input topic
//	BENCH_MESSAGES   messages to process
//	BENCH_GROUP      consumer group (the table is <group>-table)
//	BENCH_STATE_DIR  LevelDB directory
//
// Prints JSON lines: {"event":"ready"} once running, then {"event":"result",...}.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
)

// totalsCodec stores a counter's count and sum as two big-endian int64s.
type totalsCodec struct{}

type totals struct{ count, sum int64 }

func (totalsCodec) Encode(value any) ([]byte, error) {
	t, ok := value.(totals)
	if !ok {
		return nil, fmt.Errorf("totalsCodec: cannot encode %T", value)
	}
	out := make([]byte, 16)
	binary.BigEndian.PutUint64(out, uint64(t.count))
	binary.BigEndian.PutUint64(out[8:], uint64(t.sum))
	return out, nil
}

func (totalsCodec) Decode(data []byte) (any, error) {
	if len(data) != 16 {
		return nil, fmt.Errorf("totalsCodec: %d bytes, want 16", len(data))
	}
	return totals{int64(binary.BigEndian.Uint64(data)), int64(binary.BigEndian.Uint64(data[8:]))}, nil
}

func say(event string, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["event"] = event
	line, _ := json.Marshal(fields)
	fmt.Println(string(line))
}

func fail(err error) {
	say("failed", map[string]any{"message": err.Error()})
	os.Exit(1)
}

func main() {
	brokers := strings.Split(os.Getenv("KAFKA_BROKERS"), ",")
	workload := os.Getenv("BENCH_WORKLOAD")
	phase := os.Getenv("BENCH_PHASE")
	input := goka.Stream(os.Getenv("BENCH_INPUT"))
	group := goka.Group(os.Getenv("BENCH_GROUP"))
	stateDir := os.Getenv("BENCH_STATE_DIR")
	expected, err := strconv.ParseInt(os.Getenv("BENCH_MESSAGES"), 10, 64)
	if err != nil {
		fail(fmt.Errorf("BENCH_MESSAGES: %w", err))
	}

	config := goka.DefaultConfig()
	// Goka starts new groups at the newest offset of their inputs; the benchmark's input
	// is a backlog produced before the processor starts.
	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	goka.ReplaceGlobalConfig(config)
	// Goka creates its table topic with replication 2 by default; the benchmark may run
	// against a single broker.
	topics := goka.NewTopicManagerConfig()
	topics.Table.Replication = 1
	topics.Stream.Replication = 1

	var processed atomic.Int64
	done := make(chan struct{})
	count := func() {
		if processed.Add(1) == expected {
			close(done)
		}
	}
	var edges []goka.Edge
	if workload == "cdc" {
		edges = append(edges,
			goka.Input(input, new(codec.Bytes), func(ctx goka.Context, msg any) {
				if msg == nil {
					ctx.Delete()
				} else {
					ctx.SetValue(msg)
				}
				count()
			}),
			goka.Persist(new(codec.Bytes)))
	} else {
		edges = append(edges,
			goka.Input(input, new(codec.String), func(ctx goka.Context, msg any) {
				amount, err := strconv.ParseInt(msg.(string), 10, 64)
				if err != nil {
					ctx.Fail(err)
				}
				t, _ := ctx.Value().(totals)
				ctx.SetValue(totals{t.count + 1, t.sum + amount})
				count()
			}),
			goka.Persist(totalsCodec{}))
	}
	// Counts the table's rows: VisitAllWithStats calls this for every stored key.
	edges = append(edges, goka.Visitor("rows", func(goka.Context, any) {}))

	started := time.Now()
	processor, err := goka.NewProcessor(brokers, goka.DefineGroup(group, edges...),
		goka.WithStorageBuilder(storage.DefaultBuilder(stateDir)),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithTopicManagerConfig(topics)),
		// Tombstones reach the callback as nil (the default drops them).
		goka.WithNilHandling(goka.NilProcess),
		// Goka logs every rebalance on stdout, where the driver reads the result line.
		goka.WithLogger(log.New(io.Discard, "", 0)),
	)
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- processor.Run(ctx) }()
	if err := processor.WaitForReadyContext(ctx); err != nil {
		fail(err)
	}
	readyAt := time.Now()
	say("ready", nil)

	result := map[string]any{"mode": "goka", "phase": phase}
	if phase == "restore" {
		result["seconds"] = readyAt.Sub(started).Seconds()
	} else {
		select {
		case <-done:
		case err := <-stopped:
			fail(errors.Join(errors.New("the processor stopped early"), err))
		}
		seconds := time.Since(readyAt).Seconds()
		result["messages"] = processed.Load()
		result["seconds"] = seconds
		result["perSecond"] = float64(processed.Load()) / seconds
	}
	if workload == "cdc" {
		rows, err := processor.VisitAllWithStats(ctx, "rows", nil)
		if err != nil {
			fail(err)
		}
		result["rows"] = rows
	}
	cancel()
	if err := <-stopped; err != nil && !errors.Is(err, context.Canceled) {
		fail(err)
	}
	say("result", result)
}
