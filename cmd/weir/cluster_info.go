package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clusterBroker is one broker of weir cluster info.
type clusterBroker struct {
	ID      int32   `json:"id"`
	Address string  `json:"address"`
	Rack    *string `json:"rack"`
	Leaders int     `json:"leaders"`
}

// clusterInfo is weir cluster info's result.
type clusterInfo struct {
	ClusterID         string          `json:"cluster_id"`
	ControllerID      int32           `json:"controller_id"`
	Brokers           []clusterBroker `json:"brokers"`
	Topics            int             `json:"topics"`
	Partitions        int             `json:"partitions"`
	OfflinePartitions []string        `json:"offline_partitions"`
}

func (a *app) clusterInfoCommand(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Describe the cluster's brokers and partitions, as rpk cluster info does",
		Long: `Describe the cluster (DescribeCluster and Metadata, through --brokers): the cluster id,
the controller id brokers give clients, every live broker (id, address, rack, partitions it
leads), the topic and partition counts, and partitions without a leader (offline).
JSON: one line, {"cluster_id","controller_id","brokers":[{"id","address","rack","leaders"}],
"topics","partitions","offline_partitions":["topic/partition"]}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			info, err := a.describeClusterInfo(cmd.Context(), o)
			if err != nil {
				return err
			}
			return printClusterInfo(cmd.OutOrStdout(), info, o.format)
		},
	}
}

// describeClusterInfo asks DescribeCluster and Metadata of the brokers.
func (a *app) describeClusterInfo(ctx context.Context, o *clientOptions) (clusterInfo, error) {
	cl, err := a.newClient(o)
	if err != nil {
		return clusterInfo{}, err
	}
	defer cl.Close()
	ctx, cancel := o.stepContext(ctx)
	defer cancel()
	dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
	if err != nil {
		return clusterInfo{}, fmt.Errorf("DescribeCluster: %w", err)
	}
	if err := kerr.ErrorForCode(dc.ErrorCode); err != nil {
		return clusterInfo{}, fmt.Errorf("DescribeCluster: %w", err)
	}
	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		return clusterInfo{}, fmt.Errorf("Metadata: %w", err)
	}
	info := clusterInfo{ClusterID: dc.ClusterID, ControllerID: dc.ControllerID, Topics: len(meta.Topics), OfflinePartitions: []string{}}
	leaders := map[int32]int{}
	for _, t := range meta.Topics {
		for _, p := range t.Partitions {
			info.Partitions++
			if p.Leader < 0 {
				info.OfflinePartitions = append(info.OfflinePartitions, fmt.Sprintf("%s/%d", *t.Topic, p.Partition))
				continue
			}
			leaders[p.Leader]++
		}
	}
	for _, b := range dc.Brokers {
		info.Brokers = append(info.Brokers, clusterBroker{ID: b.NodeID, Address: fmt.Sprintf("%s:%d", b.Host, b.Port), Rack: b.Rack, Leaders: leaders[b.NodeID]})
	}
	slices.SortFunc(info.Brokers, func(x, y clusterBroker) int { return int(x.ID - y.ID) })
	slices.Sort(info.OfflinePartitions)
	return info, nil
}

func printClusterInfo(w io.Writer, info clusterInfo, format string) error {
	if format == formatJSON {
		return json.NewEncoder(w).Encode(info)
	}
	fmt.Fprintf(w, "CLUSTER\n=======\n%s\ncontroller %d, %d topics, %d partitions, %d offline\n\n", info.ClusterID, info.ControllerID, info.Topics, info.Partitions, len(info.OfflinePartitions))
	fmt.Fprintf(w, "BROKERS\n=======\n")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tRACK\tLEADERS")
	for _, b := range info.Brokers {
		rack := ""
		if b.Rack != nil {
			rack = *b.Rack
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\n", b.ID, b.Address, rack, b.Leaders)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(info.OfflinePartitions) > 0 {
		fmt.Fprintf(w, "\nOFFLINE PARTITIONS\n==================\n%s\n", strings.Join(info.OfflinePartitions, "\n"))
	}
	return nil
}

// clusterHealthCommand reports whether the cluster is healthy, as rpk cluster health does.
func (a *app) clusterHealthCommand(o *clientOptions) *cobra.Command {
	var expectBrokers int
	var controllers string
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check the cluster's health, as rpk cluster health does; exit 1 if unhealthy",
		Long: `Check the cluster: every partition has a leader, at least --expect-brokers brokers are
live (registered and unfenced), and, with --bootstrap-controller, the metadata quorum has a
leader and no voter lags behind its high watermark. Prints "healthy" or "unhealthy" and the
reasons, one per line (JSON: {"healthy","reasons":[...]}); exits 1 when unhealthy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			var reasons []string
			info, err := a.describeClusterInfo(cmd.Context(), o)
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("brokers: %v", err))
			} else {
				if len(info.Brokers) < expectBrokers {
					reasons = append(reasons, fmt.Sprintf("%d live brokers, expected %d", len(info.Brokers), expectBrokers))
				}
				for _, p := range info.OfflinePartitions {
					reasons = append(reasons, "offline partition "+p)
				}
			}
			if controllers != "" {
				ctx, cancel := o.stepContext(cmd.Context())
				q, err := describeQuorum(ctx, strings.Split(controllers, ","))
				cancel()
				switch {
				case err != nil:
					reasons = append(reasons, fmt.Sprintf("quorum: %v", err))
				default:
					for _, v := range q.Voters {
						if v.Lag > 0 {
							reasons = append(reasons, fmt.Sprintf("voter %d lags %d records behind the high watermark", v.NodeID, v.Lag))
						}
					}
				}
			}
			out := cmd.OutOrStdout()
			if o.format == formatJSON {
				if err := json.NewEncoder(out).Encode(struct {
					Healthy bool     `json:"healthy"`
					Reasons []string `json:"reasons"`
				}{len(reasons) == 0, append([]string{}, reasons...)}); err != nil {
					return err
				}
			} else if len(reasons) == 0 {
				fmt.Fprintln(out, "healthy")
			} else {
				fmt.Fprintln(out, "unhealthy")
				for _, r := range reasons {
					fmt.Fprintln(out, "  "+r)
				}
			}
			if len(reasons) > 0 {
				return fmt.Errorf("the cluster is unhealthy: %s", strings.Join(reasons, "; "))
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&expectBrokers, "expect-brokers", 1, "the number of live brokers a healthy cluster has at least")
	cmd.Flags().StringVar(&controllers, "bootstrap-controller", "", "comma-separated controller listeners: also check the metadata quorum")
	return cmd
}
