package main

import (
	"github.com/spf13/cobra"
)

// topicCommand is the noun of the topic verbs, rpk's grammar: weir topic create|list|... .
func (a *app) topicCommand() *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, change, produce to and consume from topics (like rpk topic)",
		Long: `Create, list, describe, change, produce to and consume from topics, as rpk topic does, with
a Kafka client (franz-go) connected to --brokers. Every verb takes --format text|json; admin
changes print one TOPIC, STATUS row per topic and exit 1 if any topic failed.`,
		Args: cobra.ArbitraryArgs,
		RunE: requireSubcommand,
	}
	o.addClientFlags(cmd)
	cmd.AddCommand(
		a.topicCreateCommand(&o),
		a.topicListCommand(&o),
		a.topicDescribeCommand(&o),
		a.topicDeleteCommand(&o),
		a.topicAddPartitionsCommand(&o),
		a.topicAlterConfigCommand(&o),
		a.topicProduceCommand(&o),
		a.topicConsumeCommand(&o),
	)
	nameUsageErrors(cmd)
	return cmd
}
