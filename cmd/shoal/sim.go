package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/shoal-live/shoal/internal/scaler"
	"github.com/shoal-live/shoal/internal/sim"
)

// runSim replays a load trace against the autoscaler in virtual time.
func runSim(args []string) error {
	fs := flag.NewFlagSet("shoal sim", flag.ContinueOnError)
	tracePath := fs.String("trace", "", "load trace CSV (time_s,publishers,subscribers); see bench/traces/")
	mode := fs.String("mode", "", "scale-out mode: competitive or rigid; empty compares both and the baselines")
	boot := fs.Duration("boot", 30*time.Second, "boot delay from launch to in service")
	edgeCap := fs.Int("edge-capacity", 300, "subscribers per edge")
	originCap := fs.Int("origin-capacity", 30, "publishers per origin")
	failures := fs.Float64("failure-rate", 0, "fraction of launches that never come up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tracePath == "" {
		return fmt.Errorf("sim: -trace is required")
	}
	b, err := os.ReadFile(*tracePath)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	trace, err := sim.ParseTrace(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("sim: %s: %w", *tracePath, err)
	}
	cfg := sim.DefaultConfig()
	cfg.BootDelay = *boot
	cfg.FailureRate = *failures
	cfg.Edge.Capacity = *edgeCap
	cfg.Origin.Capacity = *originCap
	var rows []sim.Row
	if *mode == "" {
		if rows, err = sim.Compare(trace, cfg); err != nil {
			return err
		}
	} else {
		m, err := scaler.ParseMode(*mode)
		if err != nil {
			return fmt.Errorf("sim: -mode: %w", err)
		}
		cfg.Mode = m
		res, err := sim.Run(trace, cfg)
		if err != nil {
			return err
		}
		rows = []sim.Row{{Name: m.String(), Result: res}}
	}
	pubs, subs := trace.Peak()
	fmt.Printf("trace %s: %s, peak %d publishers, %d subscribers; boot %s; capacities %d subscribers/edge, %d publishers/origin\n\n",
		*tracePath, trace.Duration(), pubs, subs, *boot, *edgeCap, *originCap)
	return sim.WriteTable(os.Stdout, rows)
}
