package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/wire"
)

// clusterCommand is the noun of the cluster verbs.
func (a *app) clusterCommand() *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Describe the cluster (brokers, health, the metadata quorum); reassign partitions, elect leaders",
		Args:  cobra.ArbitraryArgs,
		RunE:  requireSubcommand,
	}
	info, health := a.clusterInfoCommand(&o), a.clusterHealthCommand(&o)
	o.addClientFlags(info)
	o.addClientFlags(health)
	cmd.AddCommand(info, health, a.clusterQuorumCommand(), a.clusterElectLeadersCommand())
	nameUsageErrors(cmd)
	// reassign is a noun of its own: its verbs' usage errors are named by it.
	cmd.AddCommand(a.clusterReassignCommand())
	return cmd
}

// quorumOptions are weir cluster quorum's flags.
type quorumOptions struct {
	controllers string
	replication bool
	format      string
	timeout     time.Duration
}

func (a *app) clusterQuorumCommand() *cobra.Command {
	var o quorumOptions
	cmd := &cobra.Command{
		Use:   "quorum",
		Short: "Describe the metadata quorum, as kafka-metadata-quorum describe does",
		Long: `Describe the metadata quorum (DescribeQuorum, asked of the controllers in
--bootstrap-controller until one is the leader), as kafka-metadata-quorum describe --status
does: LeaderId, LeaderEpoch, HighWatermark, MaxFollowerLag, MaxFollowerLagTimeMs,
CurrentVoters, CurrentObservers. With --replication, a table per replica instead: NodeId,
LogEndOffset, Lag (behind the high watermark), LastFetchTimestamp, LastCaughtUpTimestamp (ms
since the epoch, the leader's clock; empty when unknown), Status (Leader, Follower, Observer).
JSON: one line, {"leader_id","leader_epoch","high_watermark","max_follower_lag",
"max_follower_lag_time_ms","voters":[replica],"observers":[replica]} with replica
{"node_id","log_end_offset","lag","last_fetch_timestamp","last_caught_up_timestamp","status"}.
Exits 1 if no controller answers as the leader.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.format != formatText && o.format != formatJSON {
				return usageError{fmt.Errorf("--format %q: want text or json", o.format)}
			}
			var addrs []string
			for _, s := range strings.Split(o.controllers, ",") {
				if s = strings.TrimSpace(s); s != "" {
					addrs = append(addrs, s)
				}
			}
			if len(addrs) == 0 {
				return usageError{fmt.Errorf("--bootstrap-controller %q: want host:port[,host:port...]", o.controllers)}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			q, err := describeQuorum(ctx, addrs)
			if err != nil {
				return err
			}
			return printQuorum(cmd.OutOrStdout(), q, o)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.controllers, "bootstrap-controller", "127.0.0.1:9093", "comma-separated controller listeners, host:port")
	flags.BoolVar(&o.replication, "replication", false, "print each replica's replication state instead of the summary")
	flags.StringVar(&o.format, "format", formatText, "output format: text or json")
	flags.DurationVar(&o.timeout, "timeout", 30*time.Second, "deadline of the whole command")
	return cmd
}

// quorumReplica is one replica's line of the description.
type quorumReplica struct {
	NodeID                int32  `json:"node_id"`
	LogEndOffset          int64  `json:"log_end_offset"`
	Lag                   int64  `json:"lag"`
	LastFetchTimestamp    int64  `json:"last_fetch_timestamp"`
	LastCaughtUpTimestamp int64  `json:"last_caught_up_timestamp"`
	Status                string `json:"status"`
}

// quorumDescription is weir cluster quorum's result.
type quorumDescription struct {
	LeaderID             int32           `json:"leader_id"`
	LeaderEpoch          int32           `json:"leader_epoch"`
	HighWatermark        int64           `json:"high_watermark"`
	MaxFollowerLag       int64           `json:"max_follower_lag"`
	MaxFollowerLagTimeMs int64           `json:"max_follower_lag_time_ms"`
	Voters               []quorumReplica `json:"voters"`
	Observers            []quorumReplica `json:"observers"`
}

// describeQuorum asks each controller in turn until the leader answers.
func describeQuorum(ctx context.Context, addrs []string) (quorumDescription, error) {
	var errs []error
	for _, addr := range addrs {
		req := kmsg.NewPtrDescribeQuorumRequest()
		t := kmsg.NewDescribeQuorumRequestTopic()
		t.Topic = quorum.MetadataTopic
		t.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{{Partition: quorum.MetadataPartition}}
		req.Topics = append(req.Topics, t)
		raw, err := kafkaRequest(ctx, addr, req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp := raw.(*kmsg.DescribeQuorumResponse)
		if resp.ErrorCode != 0 {
			errs = append(errs, fmt.Errorf("%s: DescribeQuorum: %w", addr, kerr.ErrorForCode(resp.ErrorCode)))
			continue
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			errs = append(errs, fmt.Errorf("%s: DescribeQuorum answered for %d topics", addr, len(resp.Topics)))
			continue
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			errs = append(errs, fmt.Errorf("%s: DescribeQuorum: %w (leader %d)", addr, kerr.ErrorForCode(p.ErrorCode), p.LeaderID))
			continue
		}
		return quorumFrom(p), nil
	}
	return quorumDescription{}, fmt.Errorf("no controller answered as the quorum leader: %w", errors.Join(errs...))
}

func quorumFrom(p kmsg.DescribeQuorumResponseTopicPartition) quorumDescription {
	q := quorumDescription{LeaderID: p.LeaderID, LeaderEpoch: p.LeaderEpoch, HighWatermark: p.HighWatermark}
	var leaderFetchMs int64 = -1
	replica := func(s kmsg.DescribeQuorumResponseTopicPartitionReplicaState, status string) quorumReplica {
		return quorumReplica{NodeID: s.ReplicaID, LogEndOffset: s.LogEndOffset, Lag: max(p.HighWatermark-s.LogEndOffset, 0),
			LastFetchTimestamp: s.LastFetchTimestamp, LastCaughtUpTimestamp: s.LastCaughtUpTimestamp, Status: status}
	}
	for _, v := range p.CurrentVoters {
		status := "Follower"
		if v.ReplicaID == p.LeaderID {
			status = "Leader"
			leaderFetchMs = v.LastFetchTimestamp
		}
		q.Voters = append(q.Voters, replica(v, status))
	}
	for _, o := range p.Observers {
		q.Observers = append(q.Observers, replica(o, "Observer"))
	}
	// Kafka's MaxFollowerLag and MaxFollowerLagTimeMs: over the voters other than the leader,
	// the log end offset behind the leader's and the time since the last caught-up fetch.
	var leaderEnd int64
	for _, v := range q.Voters {
		if v.Status == "Leader" {
			leaderEnd = v.LogEndOffset
		}
	}
	for _, v := range q.Voters {
		if v.Status == "Leader" {
			continue
		}
		q.MaxFollowerLag = max(q.MaxFollowerLag, leaderEnd-v.LogEndOffset)
		if leaderFetchMs >= 0 && v.LastCaughtUpTimestamp >= 0 {
			q.MaxFollowerLagTimeMs = max(q.MaxFollowerLagTimeMs, leaderFetchMs-v.LastCaughtUpTimestamp)
		}
	}
	return q
}

func printQuorum(w io.Writer, q quorumDescription, o quorumOptions) error {
	if o.format == formatJSON {
		return json.NewEncoder(w).Encode(q)
	}
	ids := func(rs []quorumReplica) string {
		var parts []string
		for _, r := range rs {
			parts = append(parts, strconv.Itoa(int(r.NodeID)))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if !o.replication {
		fmt.Fprintf(tw, "LeaderId:\t%d\n", q.LeaderID)
		fmt.Fprintf(tw, "LeaderEpoch:\t%d\n", q.LeaderEpoch)
		fmt.Fprintf(tw, "HighWatermark:\t%d\n", q.HighWatermark)
		fmt.Fprintf(tw, "MaxFollowerLag:\t%d\n", q.MaxFollowerLag)
		fmt.Fprintf(tw, "MaxFollowerLagTimeMs:\t%d\n", q.MaxFollowerLagTimeMs)
		fmt.Fprintf(tw, "CurrentVoters:\t%s\n", ids(q.Voters))
		fmt.Fprintf(tw, "CurrentObservers:\t%s\n", ids(q.Observers))
		return tw.Flush()
	}
	ms := func(v int64) string {
		if v < 0 {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	fmt.Fprintln(tw, "NodeId\tLogEndOffset\tLag\tLastFetchTimestamp\tLastCaughtUpTimestamp\tStatus")
	for _, r := range slices.Concat(q.Voters, q.Observers) {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\n", r.NodeID, r.LogEndOffset, r.Lag, ms(r.LastFetchTimestamp), ms(r.LastCaughtUpTimestamp), r.Status)
	}
	return tw.Flush()
}

// kafkaResponseBytesMax bounds a response kafkaRequest reads.
const kafkaResponseBytesMax = 100 << 20

// kafkaRequest sends one request to addr on a connection of its own and returns the answer,
// at the highest version both sides speak (ApiVersions v0 first, as Kafka's clients do).
func kafkaRequest(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	clientID := "weir-cli"
	roundTrip := func(r kmsg.Request, version int16, corr int32) (kmsg.Response, error) {
		h := wire.RequestHeader{APIKey: r.Key(), APIVersion: version, CorrelationID: corr, ClientID: &clientID}
		if _, err := conn.Write(wire.AppendRequest(nil, h, r)); err != nil {
			return nil, fmt.Errorf("%s: write %s: %w", addr, kmsg.NameForKey(r.Key()), err)
		}
		var size [4]byte
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			return nil, fmt.Errorf("%s: read %s answer: %w", addr, kmsg.NameForKey(r.Key()), err)
		}
		n := binary.BigEndian.Uint32(size[:])
		if n > kafkaResponseBytesMax {
			return nil, fmt.Errorf("%s: %s answer of %d bytes", addr, kmsg.NameForKey(r.Key()), n)
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(conn, frame); err != nil {
			return nil, fmt.Errorf("%s: read %s answer: %w", addr, kmsg.NameForKey(r.Key()), err)
		}
		got, resp, err := wire.DecodeResponse(frame, r.Key(), version)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", addr, err)
		}
		if got != corr {
			return nil, fmt.Errorf("%s: answer to correlation id %d, want %d", addr, got, corr)
		}
		return resp, nil
	}
	raw, err := roundTrip(kmsg.NewPtrApiVersionsRequest(), 0, 1)
	if err != nil {
		return nil, err
	}
	versions := raw.(*kmsg.ApiVersionsResponse)
	if versions.ErrorCode != 0 {
		return nil, fmt.Errorf("%s: ApiVersions: %w", addr, kerr.ErrorForCode(versions.ErrorCode))
	}
	version := int16(-1)
	for _, k := range versions.ApiKeys {
		if k.ApiKey == req.Key() {
			version = min(k.MaxVersion, req.MaxVersion())
			if version < k.MinVersion {
				version = -1
			}
		}
	}
	if version < 0 {
		return nil, fmt.Errorf("%s does not serve %s", addr, kmsg.NameForKey(req.Key()))
	}
	return roundTrip(req, version, 2)
}
