package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
)

// metadataLogDir is the directory of the metadata log, whose record values are metadata records.
const metadataLogDir = "__cluster_metadata-0"

// batchBytesMaxDefault bounds one batch read from a file: Kafka's socket.request.max.bytes, the
// most a producer could have sent in one request.
const batchBytesMaxDefault = 100 << 20

type dumpOptions struct {
	printRecords  bool
	batchBytesMax int64
}

func (a *app) dumpLogCommand() *cobra.Command {
	var opts dumpOptions
	cmd := &cobra.Command{
		Use:   "dump-log FILE...",
		Short: "Print the record batches of log segment files, checking each (like kafka-dump-log.sh)",
		Long: `Print each record batch of the given segment files (.log, or metadata snapshots
.checkpoint): offsets, count, position, timestamps, size, codec, CRC and whether it is valid,
producer fields and leader epoch. With --print-records, each record's offset, timestamp, key,
value and headers. Under a __cluster_metadata-0 directory, values are decoded as metadata
records, and control records (snapshot header and footer, leader changes) as KRaft's.

A truncated or corrupt tail is reported and the next file is read. The exit code is 1 if any
file could not be read or held an invalid batch.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.batchBytesMax < record.HeaderSizeBytes {
				return usageError{fmt.Errorf("--max-batch-bytes %d: must be at least %d", opts.batchBytesMax, record.HeaderSizeBytes)}
			}
			return a.dumpLog(args, opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVar(&opts.printRecords, "print-records", false, "print each record's offset, timestamp, key, value and headers")
	flags.BoolVar(&opts.printRecords, "print-data-log", false, "the same as --print-records, as kafka-dump-log.sh spells it")
	flags.Int64Var(&opts.batchBytesMax, "max-batch-bytes", batchBytesMaxDefault, "largest batch to read; a larger declared size is reported as corrupt")
	return cmd
}

// dumpLog dumps every file, going on after a bad one, and fails if any was bad.
func (a *app) dumpLog(paths []string, opts dumpOptions) error {
	out := bufio.NewWriter(a.stdout)
	d := &dumper{out: out, opts: opts, decompressor: record.NewDecompressor(record.DefaultDecompressedBytesMax)}
	var bad []string
	for _, path := range paths {
		ok, err := d.dumpFile(path)
		if err != nil {
			fmt.Fprintf(out, "Error reading %s: %v\n", path, err)
		}
		if err != nil || !ok {
			bad = append(bad, path)
		}
		if err := out.Flush(); err != nil {
			return err // stdout is gone; nothing more can be reported
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d of %d files hold invalid or unreadable data: %s", len(bad), len(paths), strings.Join(bad, ", "))
	}
	return nil
}

// dumper prints segment files. The batch buffer is reused across batches and files.
type dumper struct {
	out          *bufio.Writer
	opts         dumpOptions
	decompressor *record.Decompressor
	buf          []byte
}

// dumpFile prints one file. ok is false if it held an invalid batch, a record that does not
// decode, or a corrupt or truncated tail; err is set if it could not be read at all.
func (d *dumper) dumpFile(path string) (ok bool, err error) {
	if ext := filepath.Ext(path); ext != ".log" && ext != ".checkpoint" {
		return false, errors.New("not a .log segment or .checkpoint snapshot (indexes and producer snapshots are not supported yet)")
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return false, err
	}
	if info.IsDir() {
		return false, errors.New("is a directory")
	}
	sizeBytes := info.Size()
	isMetadata := filepath.Base(filepath.Dir(path)) == metadataLogDir
	fmt.Fprintf(d.out, "Dumping %s\n", path)
	if start, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), 10, 64); err == nil {
		fmt.Fprintf(d.out, "Log starting offset: %d\n", start)
	}

	ok = true
	var position int64
	nextOffset := record.Offset(-1) // the previous batch's next offset; -1 before the first
	for position < sizeBytes {
		remaining := sizeBytes - position
		if remaining < record.HeaderSizeBytes {
			d.invalidTail(path, position, remaining, fmt.Sprintf("%d bytes cannot hold a batch header of %d", remaining, record.HeaderSizeBytes))
			return false, nil
		}
		header := d.buffer(record.HeaderSizeBytes)
		if _, err := f.ReadAt(header, position); err != nil {
			return false, fmt.Errorf("reading the batch header at position %d: %w", position, err)
		}
		h, err := record.ParseHeader(header)
		if err != nil {
			d.invalidTail(path, position, remaining, err.Error())
			return false, nil
		}
		batchBytes := h.SizeBytes()
		if batchBytes > d.opts.batchBytesMax {
			d.invalidTail(path, position, remaining, fmt.Sprintf("batch declares %d bytes, more than --max-batch-bytes %d", batchBytes, d.opts.batchBytesMax))
			return false, nil
		}
		if batchBytes > remaining {
			d.invalidTail(path, position, remaining, fmt.Sprintf("truncated: batch at base offset %d declares %d bytes, %d remain", h.BaseOffset, batchBytes, remaining))
			return false, nil
		}
		batch := d.buffer(int(batchBytes))
		if _, err := f.ReadAt(batch, position); err != nil {
			return false, fmt.Errorf("reading the batch at position %d: %w", position, err)
		}
		_, validErr := record.Validate(batch)
		d.printBatch(&h, position, validErr == nil)
		if validErr != nil {
			fmt.Fprintf(d.out, "| invalid: %v\n", validErr)
			ok = false
		} else if h.BaseOffset < nextOffset {
			fmt.Fprintf(d.out, "| invalid: base offset %d is below the previous batch's next offset %d\n", h.BaseOffset, nextOffset)
			ok = false
		}
		if validErr == nil && d.opts.printRecords {
			if err := d.printRecords(&h, batch, isMetadata); err != nil {
				fmt.Fprintf(d.out, "| invalid records: %v\n", err)
				ok = false
			}
		}
		nextOffset = max(nextOffset, h.NextOffset())
		position += batchBytes
	}
	return ok, nil
}

// buffer returns d.buf resized to n bytes, growing it if needed; n is bounded by --max-batch-bytes.
func (d *dumper) buffer(n int) []byte {
	if cap(d.buf) < n {
		d.buf = make([]byte, n)
	}
	return d.buf[:n]
}

// invalidTail reports bytes at the end of a file that are not a whole, parseable batch, as
// kafka-dump-log.sh does, with the reason.
func (d *dumper) invalidTail(path string, position, sizeBytes int64, reason string) {
	fmt.Fprintf(d.out, "Found %d invalid bytes at the end of %s (position %d): %s\n", sizeBytes, filepath.Base(path), position, reason)
}

// printBatch prints a batch's header in kafka-dump-log.sh's layout.
func (d *dumper) printBatch(h *record.Header, position int64, valid bool) {
	lastSequence := incrementSequence(h.BaseSequence, h.LastOffsetDelta)
	timestampType := "CreateTime"
	if h.LogAppendTime() {
		timestampType = "LogAppendTime"
	}
	fmt.Fprintf(d.out, "baseOffset: %d lastOffset: %d count: %d baseSequence: %d lastSequence: %d producerId: %d producerEpoch: %d partitionLeaderEpoch: %d isTransactional: %t isControl: %t",
		h.BaseOffset, h.LastOffset(), h.RecordCount, h.BaseSequence, lastSequence, h.ProducerID, h.ProducerEpoch, h.PartitionLeaderEpoch, h.Transactional(), h.Control())
	if h.HasDeleteHorizon() {
		fmt.Fprintf(d.out, " deleteHorizonMs: %d", h.FirstTimestamp)
	}
	fmt.Fprintf(d.out, " position: %d %s: %d size: %d magic: %d compresscodec: %s crc: %d isvalid: %t\n",
		position, timestampType, h.MaxTimestamp, h.SizeBytes(), h.Magic, h.Codec(), h.CRC, valid)
}

// printRecords prints each record of a valid batch.
func (d *dumper) printRecords(h *record.Header, batch []byte, isMetadata bool) error {
	timestampType := "CreateTime"
	if h.LogAppendTime() {
		timestampType = "LogAppendTime"
	}
	var decodeErr error
	err := d.decompressor.ForEachRecord(batch, func(r *record.Record) error {
		timestamp := h.FirstTimestamp + r.TimestampDelta
		if h.LogAppendTime() {
			timestamp = h.MaxTimestamp // every record of the batch has the append time
		}
		sequence := incrementSequence(h.BaseSequence, r.OffsetDelta)
		fmt.Fprintf(d.out, "| offset: %d %s: %d keySize: %d valueSize: %d sequence: %d headerKeys: [%s]",
			h.BaseOffset+record.Offset(r.OffsetDelta), timestampType, timestamp, nullableLen(r.Key), nullableLen(r.Value), sequence, headerKeys(r.Headers))
		switch {
		case h.Control() && !isMetadata:
			fmt.Fprintf(d.out, " %s", controlRecord(r.Key, r.Value))
		case isMetadata:
			// Metadata control records (snapshot header and footer, leader changes) have
			// their own schemas; the others are metadata records.
			var text string
			var err error
			if h.Control() {
				text, err = metadata.DecodeControlForDump(r.Key, r.Value)
			} else {
				text, err = metadata.DecodeForDump(r.Value)
			}
			if err != nil {
				text = "<" + err.Error() + ">"
				decodeErr = errors.Join(decodeErr, fmt.Errorf("offset %d: %w", h.BaseOffset+record.Offset(r.OffsetDelta), err))
			}
			fmt.Fprintf(d.out, " payload: %s", text)
		default:
			fmt.Fprintf(d.out, " key: %s payload: %s", printable(r.Key), printable(r.Value))
		}
		if len(r.Headers) > 0 {
			fmt.Fprintf(d.out, " headers: [%s]", headerPairs(r.Headers))
		}
		d.out.WriteByte('\n')
		return nil
	})
	return errors.Join(err, decodeErr)
}

// controlTypes are the control record types by their key's type field (Kafka's ControlRecordType).
var controlTypes = map[int16]string{
	0: "ABORT", 1: "COMMIT", 2: "LEADER_CHANGE", 3: "SNAPSHOT_HEADER", 4: "SNAPSHOT_FOOTER",
	5: "KRAFT_VERSION", 6: "KRAFT_VOTERS",
}

// controlRecord describes a control record: its key is a version and a type (int16 each); a
// transaction marker's value is a version and the coordinator epoch.
func controlRecord(key, value []byte) string {
	if len(key) < 4 {
		return fmt.Sprintf("controlType: <key of %d bytes, want 4>", len(key))
	}
	controlType := int16(binary.BigEndian.Uint16(key[2:4]))
	name, known := controlTypes[controlType]
	if !known {
		name = fmt.Sprintf("UNKNOWN(%d)", controlType)
	}
	if (controlType == 0 || controlType == 1) && len(value) >= 6 {
		return fmt.Sprintf("endTxnMarker: %s coordinatorEpoch: %d", name, int32(binary.BigEndian.Uint32(value[2:6])))
	}
	return "controlType: " + name
}

// nullableLen is a key's or value's size as Kafka prints it: -1 for null.
func nullableLen(b []byte) int {
	if b == nil {
		return -1
	}
	return len(b)
}

// printable renders bytes for a terminal: as they are if they are printable UTF-8, else quoted
// with Go escapes so that control bytes cannot disturb the output. Null is "null".
func printable(b []byte) string {
	if b == nil {
		return "null"
	}
	if utf8.Valid(b) && !strings.ContainsFunc(string(b), func(r rune) bool { return !unicode.IsPrint(r) }) {
		return string(b)
	}
	return strconv.Quote(string(b))
}

func headerKeys(headers []record.RecordHeader) string {
	keys := make([]string, len(headers))
	for i, h := range headers {
		keys[i] = printable([]byte(h.Key))
	}
	return strings.Join(keys, ", ")
}

func headerPairs(headers []record.RecordHeader) string {
	pairs := make([]string, len(headers))
	for i, h := range headers {
		pairs[i] = printable([]byte(h.Key)) + "=" + printable(h.Value)
	}
	return strings.Join(pairs, ", ")
}

// incrementSequence is Kafka's DefaultRecordBatch.incrementSequence: sequences wrap from
// MaxInt32 to 0.
func incrementSequence(sequence, increment int32) int32 {
	if sequence == record.NoSequence {
		return record.NoSequence
	}
	next := int64(sequence) + int64(increment)
	if next > math.MaxInt32 {
		next -= math.MaxInt32 + 1
	}
	return int32(next)
}
