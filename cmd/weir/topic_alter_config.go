package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (a *app) topicAlterConfigCommand(o *clientOptions) *cobra.Command {
	var (
		sets    []string
		deletes []string
		dryRun  bool
	)
	cmd := &cobra.Command{
		Use:   "alter-config TOPIC... [--set key=value]... [--delete key]...",
		Short: "Set or delete topic configs",
		Long: `Change topic configs incrementally (IncrementalAlterConfigs): --set key=value sets a
config, --delete key removes the topic's own value so the broker default applies again. Other
configs are untouched. --dry-run asks the broker to validate only.

Output, text: a table with columns TOPIC and STATUS, one row per topic in argument order;
STATUS is OK or the error. JSON: one line, an array of {"topic","status","error_code"}. Exits 1
if any topic failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if len(sets) == 0 && len(deletes) == 0 {
				return usageError{fmt.Errorf("nothing to change: give --set key=value or --delete key")}
			}
			var configs []kmsg.IncrementalAlterConfigsRequestResourceConfig
			seen := map[string]bool{}
			add := func(op kmsg.IncrementalAlterConfigOp, key string, value *string) error {
				// Kafka refuses a resource naming a config twice (INVALID_REQUEST); say so here.
				if seen[key] {
					return usageError{fmt.Errorf("config %q is given more than once", key)}
				}
				seen[key] = true
				c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
				c.Name, c.Op, c.Value = key, op, value
				configs = append(configs, c)
				return nil
			}
			for _, kv := range sets {
				k, v, err := splitKeyValue("--set", kv)
				if err != nil {
					return err
				}
				if err := add(kmsg.IncrementalAlterConfigOpSet, k, kmsg.StringPtr(v)); err != nil {
					return err
				}
			}
			for _, k := range deletes {
				if k == "" {
					return usageError{fmt.Errorf("--delete: empty config name")}
				}
				if err := add(kmsg.IncrementalAlterConfigOpDelete, k, nil); err != nil {
					return err
				}
			}
			topics := uniqueArgs(args)
			req := kmsg.NewPtrIncrementalAlterConfigsRequest()
			req.ValidateOnly = dryRun
			for _, t := range topics {
				r := kmsg.NewIncrementalAlterConfigsRequestResource()
				r.ResourceType = kmsg.ConfigResourceTypeTopic
				r.ResourceName = t
				r.Configs = configs
				req.Resources = append(req.Resources, r)
			}
			resp, err := adminRequest[*kmsg.IncrementalAlterConfigsResponse](cmd.Context(), a, o, req)
			if err != nil {
				return err
			}
			byName := make(map[string]*kmsg.IncrementalAlterConfigsResponseResource, len(resp.Resources))
			for i := range resp.Resources {
				if r := &resp.Resources[i]; r.ResourceType == kmsg.ConfigResourceTypeTopic {
					byName[r.ResourceName] = r
				}
			}
			return printStatuses(a.stdout, o.format, statusesInOrder(topics, func(t string) (topicStatus, bool) {
				r, ok := byName[t]
				if !ok {
					return topicStatus{}, false
				}
				return newTopicStatus(t, r.ErrorCode, r.ErrorMessage), true
			}))
		},
	}
	flags := cmd.Flags()
	flags.StringArrayVarP(&sets, "set", "s", nil, "set a config, key=value; repeatable")
	flags.StringArrayVar(&deletes, "delete", nil, "delete a config, back to the broker default; repeatable")
	flags.BoolVarP(&dryRun, "dry-run", "d", false, "validate only; change nothing")
	return cmd
}
