package main

import (
	"crypto/rand"
	"fmt"

	"github.com/weirdata/weir/core/uuid"

	"github.com/spf13/cobra"
)

func (a *app) storageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "storage",
		Short: "Prepare and inspect log directories (like kafka-storage.sh)",
		Args:  cobra.ArbitraryArgs,
		RunE:  requireSubcommand,
	}
	cmd.AddCommand(a.storageFormatCommand(), a.storageRandomUUIDCommand())
	return cmd
}

func (a *app) storageRandomUUIDCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "random-uuid",
		Short: "Print a random UUID, for --cluster-id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := uuid.Random(rand.Reader)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, u)
			return err
		},
	}
}
