package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceOptions are topic produce's flags.
type produceOptions struct {
	keyDelim     string
	headers      []string
	acks         int
	compression  string
	partition    int32
	recordsMax   int64
	lineBytesMax int
}

// producePendingMax bounds the records produced but not yet printed; the client's own buffer
// (50,000 records) bounds what it holds.
const producePendingMax = 4096

func (a *app) topicProduceCommand(o *clientOptions) *cobra.Command {
	var p produceOptions
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records from stdin, one per line",
		Long: `Produce one record per line of stdin (a trailing \r is dropped) to TOPIC, until EOF,
--max-records, an interrupt, or the first failed record. With --key-delim D the part of a line
before the first D is the key and the rest the value; a line without D is an error, as in
kafka-console-producer. -H key=value adds a header to every record. Idempotence is on (the
client's default) with --acks -1, and off otherwise, as the client requires. --timeout bounds
each record's delivery. Records go to -p PARTITION, or else where the client's default
partitioner puts them (by key hash, or sticky for null keys).

Output, one line per record in input order. Text: "Produced to partition P at offset O", or
"Produced to partition P (acks=0: no offset)". JSON: {"topic","partition","offset",
"timestamp"} with offset -1 under acks=0. A failed record is reported on stderr and the exit
code is 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			opts, err := p.clientOpts(o)
			if err != nil {
				return err
			}
			headers, err := parseHeaders(p.headers)
			if err != nil {
				return err
			}
			cl, err := a.newClient(o, opts...)
			if err != nil {
				return err
			}
			defer cl.Close()
			return a.produceLines(cmd.Context(), cl, cmd.InOrStdin(), args[0], headers, &p, o.format)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&p.keyDelim, "key-delim", "", "split each line into key and value at the first occurrence of this string")
	flags.StringArrayVarP(&p.headers, "header", "H", nil, "header key=value added to every record; repeatable")
	flags.IntVar(&p.acks, "acks", -1, "acks: -1 (all in-sync replicas, idempotent), 1 (leader) or 0 (none)")
	flags.StringVarP(&p.compression, "compression", "z", "none", "compression: none, gzip, snappy, lz4 or zstd")
	flags.Int32VarP(&p.partition, "partition", "p", -1, "partition to produce to; -1 lets the partitioner choose")
	flags.Int64Var(&p.recordsMax, "max-records", 0, "stop after this many records; 0 reads to EOF")
	flags.IntVar(&p.lineBytesMax, "max-line-bytes", 1<<20, "longest line accepted, in bytes")
	return cmd
}

// clientOpts turns the produce flags into client options.
func (p *produceOptions) clientOpts(o *clientOptions) ([]kgo.Opt, error) {
	acks, err := parseAcks(p.acks)
	if err != nil {
		return nil, err
	}
	codec, err := parseCompression(p.compression)
	if err != nil {
		return nil, err
	}
	if p.partition < -1 {
		return nil, usageError{fmt.Errorf("--partition %d: want -1 or a partition number", p.partition)}
	}
	if p.recordsMax < 0 {
		return nil, usageError{fmt.Errorf("--max-records %d: must not be negative", p.recordsMax)}
	}
	if p.lineBytesMax < 1 {
		return nil, usageError{fmt.Errorf("--max-line-bytes %d: must be at least 1", p.lineBytesMax)}
	}
	// Like Kafka's console producer (and rpk), producing to a missing topic asks the broker to
	// create it; the broker decides (auto.create.topics.enable).
	opts := append(acks, kgo.ProducerBatchCompression(codec), kgo.AllowAutoTopicCreation())
	if p.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	if o.timeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(o.timeout))
	}
	return opts, nil
}

// parseAcks returns the client options for --acks: idempotence needs acks=all, so it is turned
// off for the others.
func parseAcks(acks int) ([]kgo.Opt, error) {
	switch acks {
	case -1:
		return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, nil
	case 1:
		return []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}, nil
	case 0:
		return []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}, nil
	}
	return nil, usageError{fmt.Errorf("--acks %d: want -1, 0 or 1", acks)}
}

// parseCompression returns the codec named by --compression.
func parseCompression(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, usageError{fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", name)}
}

func parseHeaders(kvs []string) ([]kgo.RecordHeader, error) {
	headers := make([]kgo.RecordHeader, 0, len(kvs))
	for _, kv := range kvs {
		k, v, err := splitKeyValue("--header", kv)
		if err != nil {
			return nil, err
		}
		headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return headers, nil
}

// pendingRecord is a produced record waiting for its outcome, to be printed in input order.
type pendingRecord struct {
	line   int64
	record *kgo.Record
	err    error
	done   chan struct{} // closed by the promise
}

// producedJSON is one produced record in JSON output.
type producedJSON struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	Offset      int64  `json:"offset"`
	TimestampMs int64  `json:"timestamp"`
}

// produceLines produces stdin's lines and prints each outcome in input order. It stops reading
// at an interrupt or the first failure, and always waits for what it produced.
func (a *app) produceLines(ctx context.Context, cl *kgo.Client, stdin io.Reader, topic string, headers []kgo.RecordHeader, p *produceOptions, format string) error {
	interrupted, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	lines := newLineReader(stdin, p.lineBytesMax)
	defer lines.stop()

	pending := make(chan *pendingRecord, producePendingMax)
	var failed atomic.Bool
	var printed sync.WaitGroup
	var failures []*pendingRecord
	var printErr error
	printed.Add(1)
	go func() {
		defer printed.Done()
		out := bufio.NewWriter(a.stdout)
		for pr := range pending {
			<-pr.done
			if pr.err != nil {
				failures = append(failures, pr)
				fmt.Fprintf(a.stderr, "line %d: %v\n", pr.line, pr.err)
			} else if printErr == nil {
				printErr = printProduced(out, pr.record, p.acks, format)
			}
			if len(pending) == 0 && printErr == nil {
				printErr = out.Flush()
			}
		}
		if printErr == nil {
			printErr = out.Flush()
		}
	}()

	var readErr error
	var lineNumber int64
read:
	for (p.recordsMax == 0 || lineNumber < p.recordsMax) && !failed.Load() {
		var line []byte
		select {
		case <-interrupted.Done():
			break read
		case l, ok := <-lines.lines:
			if !ok {
				readErr = lines.readErr // written before lines was closed
				break read
			}
			line = l
		}
		lineNumber++
		r := &kgo.Record{Topic: topic, Value: line, Headers: headers, Partition: p.partition}
		if p.keyDelim != "" {
			key, value, found := bytes.Cut(line, []byte(p.keyDelim))
			if !found {
				readErr = fmt.Errorf("line %d has no key delimiter %q", lineNumber, p.keyDelim)
				break read
			}
			r.Key, r.Value = key, value
		}
		pr := &pendingRecord{line: lineNumber, record: r, done: make(chan struct{})}
		pending <- pr
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			pr.err = err
			if err != nil {
				failed.Store(true)
			}
			close(pr.done)
		})
	}
	flushErr := cl.Flush(ctx)
	close(pending)
	printed.Wait()

	var errs []error
	if readErr != nil {
		errs = append(errs, fmt.Errorf("reading stdin: %w", readErr))
	}
	if len(failures) > 0 {
		errs = append(errs, fmt.Errorf("%d of %d records failed, the first (line %d): %w", len(failures), lineNumber, failures[0].line, failures[0].err))
	} else if flushErr != nil {
		errs = append(errs, fmt.Errorf("flush: %w", flushErr))
	}
	if printErr != nil {
		errs = append(errs, printErr)
	}
	return errors.Join(errs...)
}

func printProduced(w io.Writer, r *kgo.Record, acks int, format string) error {
	offset := r.Offset
	if acks == 0 {
		offset = -1 // with acks=0 the broker does not answer, so the client's offset is made up
	}
	if format == formatJSON {
		return writeJSON(w, producedJSON{Topic: r.Topic, Partition: r.Partition, Offset: offset, TimestampMs: r.Timestamp.UnixMilli()})
	}
	if acks == 0 {
		_, err := fmt.Fprintf(w, "Produced to partition %d (acks=0: no offset)\n", r.Partition)
		return err
	}
	_, err := fmt.Fprintf(w, "Produced to partition %d at offset %d\n", r.Partition, offset)
	return err
}

// lineReader reads lines on its own goroutine, so that an interrupt is not stuck behind a
// blocking read of stdin. Each line is a fresh slice, owned by the receiver.
type lineReader struct {
	lines   chan []byte
	done    chan struct{}
	readErr error // set before lines is closed
}

func newLineReader(r io.Reader, lineBytesMax int) *lineReader {
	lr := &lineReader{lines: make(chan []byte, 64), done: make(chan struct{})}
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, min(lineBytesMax+2, 64<<10)), lineBytesMax+2) // +2 for "\r\n"
	go func() {
		defer close(lr.lines)
		for scanner.Scan() {
			if len(scanner.Bytes()) > lineBytesMax {
				lr.readErr = errLineTooLong(lineBytesMax)
				return
			}
			line := bytes.Clone(scanner.Bytes())
			if line == nil {
				line = []byte{} // an empty line is an empty value, not a null one
			}
			select {
			case lr.lines <- line:
			case <-lr.done:
				return
			}
		}
		if err := scanner.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = errLineTooLong(lineBytesMax)
			}
			lr.readErr = err
		}
	}()
	return lr
}

func errLineTooLong(lineBytesMax int) error {
	return fmt.Errorf("a line is longer than --max-line-bytes %d", lineBytesMax)
}

// stop lets the reader goroutine end after its current read.
func (lr *lineReader) stop() { close(lr.done) }
