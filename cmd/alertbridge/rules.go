package main

import (
	"context"
	"fmt"
	"io"

	"github.com/alertbridge/alertbridge/ruleengine"
)

func rules(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, "usage: alertbridge rules test DIR...")
		return 2
	}
	dirs := args[1:]
	if len(dirs) == 0 {
		fmt.Fprintln(stderr, "usage: alertbridge rules test DIR...")
		return 2
	}
	failed, err := ruleengine.RunTests(ctx, stdout, dirs...)
	if err != nil {
		fmt.Fprintln(stderr, "alertbridge rules test:", err)
		return 1
	}
	if failed > 0 {
		return 1
	}
	return 0
}
