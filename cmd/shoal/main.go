// Command shoal is Shoal's control plane and command line: the stream
// manager, a whole cluster on one machine, the benchmarks and the
// simulator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/shoal-live/shoal/internal/version"
)

const usage = `usage: shoal <command> [flags]

commands:
  version          print the version
  bench play       open N RTMP subscribers and report bitrate and stalls
  bench publish    publish a file in a loop over RTMP
  bench so         shared-object latency and throughput
  sim              replay a load trace against the autoscaler in virtual time
  nats             run a NATS server with JetStream (alone or in a NATS cluster) for nodes to join
  manager          run the stream manager (REST API, autoscaler, local provider, embedded NATS)
  up               run a whole cluster on this machine: manager, an origin and an edge
  groups, nodes, policy, launchconfig, alarm, events, node, broadcast, subscribe
                   drive the stream manager's REST API (shoal groups -h)
`

func main() { os.Exit(realMain()) }

// realMain runs the command and returns the exit code, so that deferred
// calls run before main exits.
func realMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintln(os.Stderr, "shoal:", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Println("shoal", version.String())
		return nil
	case "bench":
		return runBench(ctx, args[1:])
	case "sim":
		return runSim(args[1:])
	case "nats":
		return runNATS(ctx, args[1:])
	case "manager":
		return runManager(ctx, args[1:])
	case "up":
		return runUp(ctx, args[1:])
	case "groups", "nodes", "policy", "launchconfig", "alarm", "events", "node", "broadcast", "subscribe":
		return runAdmin(ctx, args[0], args[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
