package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shoal-live/shoal/internal/smclient"
)

const adminUsage = `admin commands (flags: -url, default $SHOAL_URL or http://127.0.0.1:5080; -token, default $SHOAL_TOKEN):
  shoal groups                          list node groups
  shoal groups resize <group> -region r -min-publishers n -max-publishers n -min-subscribers n -max-subscribers n
                                        size a region of a group for its clients (rewrites its scale policy)
  shoal nodes [group] [-map]            list the nodes of a group (all groups without one); -map: the relations map
  shoal policy get [name]               print a scale policy (the names without one)
  shoal policy put <name> <file|->      create or replace a scale policy from a JSON document
  shoal launchconfig get [name]         print a launch configuration (the names without one)
  shoal launchconfig put <name> <file|->
  shoal alarm get [role]                print the scale-out alarm of a role (origin and edge without one)
  shoal alarm set <role> <percent>      set the scale-out threshold of a role
  shoal events [-group g] [-limit n]    list the autoscaler's scaling events, newest first
  shoal node terminate <node> [-force]  terminate a node (drained first unless -force)
  shoal node sunset <node>...           drain nodes, replace them, terminate them once empty
  shoal broadcast <scope/stream>        ask where to publish a stream
  shoal subscribe <scope/stream>        ask where to play a stream
`

// admin is one admin command: its client, flags and output.
type admin struct {
	fs     *flag.FlagSet
	url    *string
	token  *string
	asJSON *bool
	out    io.Writer
}

func newAdmin(name string, out io.Writer) *admin {
	fs := flag.NewFlagSet("shoal "+name, flag.ContinueOnError)
	fs.Usage = func() { _, _ = io.WriteString(fs.Output(), adminUsage) }
	base := os.Getenv("SHOAL_URL")
	if base == "" {
		base = "http://127.0.0.1:5080"
	}
	return &admin{
		fs:     fs,
		url:    fs.String("url", base, "stream manager URL ($SHOAL_URL)"),
		token:  fs.String("token", os.Getenv("SHOAL_TOKEN"), "admin token ($SHOAL_TOKEN)"),
		asJSON: fs.Bool("json", false, "print JSON"),
		out:    out,
	}
}

// parse parses flags placed anywhere among the arguments and returns the
// positional ones.
func (a *admin) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := a.fs.Parse(args); err != nil {
			return nil, err
		}
		if a.fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, a.fs.Arg(0))
		args = a.fs.Args()[1:]
	}
}

func (a *admin) client() *smclient.Client { return smclient.New(*a.url, *a.token, nil) }

func (a *admin) printJSON(v any) error {
	enc := json.NewEncoder(a.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runAdmin runs the admin command cmd ("groups", "nodes", ...).
func runAdmin(ctx context.Context, cmd string, args []string) error {
	return runAdminTo(ctx, os.Stdout, cmd, args)
}

func runAdminTo(ctx context.Context, out io.Writer, cmd string, args []string) error {
	a := newAdmin(cmd, out)
	var (
		mapFlag *bool
		force   *bool
		group   *string
		limit   *int
		size    *resizeFlags
	)
	switch cmd {
	case "groups":
		size = newResizeFlags(a.fs)
	case "nodes":
		mapFlag = a.fs.Bool("map", false, "print the relations map of the group")
	case "node":
		force = a.fs.Bool("force", false, "terminate at once, without draining")
	case "events":
		group = a.fs.String("group", "", "only this group's events")
		limit = a.fs.Int("limit", 50, "at most this many events")
	}
	pos, err := a.parse(args)
	if err != nil {
		return err
	}
	c := a.client()
	switch cmd {
	case "groups":
		return a.groups(ctx, c, pos, size)
	case "nodes":
		return a.nodes(ctx, c, pos, *mapFlag)
	case "policy":
		return a.document(ctx, pos, "policy", c.ScalePolicies, c.ScalePolicy, c.PutScalePolicy)
	case "launchconfig":
		return a.document(ctx, pos, "launchconfig", c.LaunchConfigs, c.LaunchConfig, c.PutLaunchConfig)
	case "alarm":
		return a.alarm(ctx, c, pos)
	case "events":
		return a.events(ctx, c, pos, *group, *limit)
	case "node":
		return a.node(ctx, c, pos, *force)
	case "broadcast", "subscribe":
		return a.lookup(ctx, c, cmd, pos)
	default:
		return fmt.Errorf("unknown admin command %q", cmd)
	}
}

func wantArgs(cmd string, pos []string, lo, hi int) error {
	if len(pos) < lo || (hi >= 0 && len(pos) > hi) {
		return fmt.Errorf("%s: wrong number of arguments %q\n%s", cmd, pos, adminUsage)
	}
	return nil
}

func (a *admin) groups(ctx context.Context, c *smclient.Client, pos []string, size *resizeFlags) error {
	if len(pos) > 0 && pos[0] == "resize" {
		return a.resize(ctx, c, pos, size)
	}
	if len(pos) > 0 {
		return fmt.Errorf("groups: unknown action %q, want resize or nothing\n%s", pos[0], adminUsage)
	}
	if set := size.given(); len(set) > 0 {
		return fmt.Errorf("groups: -%s is for groups resize", set[0])
	}
	gs, err := c.Groups(ctx)
	if err != nil {
		return err
	}
	if *a.asJSON {
		return a.printJSON(gs)
	}
	rows := [][]string{{"NAME", "STATE", "REGIONS", "LAUNCH CONFIG", "SCALE POLICY"}}
	for _, g := range gs {
		rows = append(rows, []string{g.Name, g.State, strings.Join(g.Regions, ","), g.LaunchConfig, g.ScalePolicy})
	}
	return writeTable(a.out, rows)
}

// resizeFlags are the flags of "groups resize".
type resizeFlags struct {
	fs     *flag.FlagSet
	region *string
	counts []*int64 // in the order of countNames
}

var countNames = []string{"min-publishers", "max-publishers", "min-subscribers", "max-subscribers"}

func newResizeFlags(fs *flag.FlagSet) *resizeFlags {
	f := &resizeFlags{fs: fs, region: fs.String("region", "", "groups resize: the region to size (one of the group's)")}
	for _, name := range countNames {
		f.counts = append(f.counts, fs.Int64(name, 0, "groups resize: "+strings.ReplaceAll(name, "-", " ")))
	}
	return f
}

// given returns the names of the resize flags set on the command line.
func (f *resizeFlags) given() []string {
	var set []string
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "region" || slices.Contains(countNames, fl.Name) {
			set = append(set, fl.Name)
		}
	})
	return set
}

// resize runs "groups resize <group>": every resize flag is required.
func (a *admin) resize(ctx context.Context, c *smclient.Client, pos []string, f *resizeFlags) error {
	if err := wantArgs("groups resize", pos, 2, 2); err != nil {
		return err
	}
	set := f.given()
	for _, name := range append([]string{"region"}, countNames...) {
		if !slices.Contains(set, name) {
			return fmt.Errorf("groups resize: -%s is required\n%s", name, adminUsage)
		}
	}
	rg, err := c.ResizeGroup(ctx, pos[1], []smclient.RegionSize{{
		Region: *f.region, MinPublishers: *f.counts[0], MaxPublishers: *f.counts[1],
		MinSubscribers: *f.counts[2], MaxSubscribers: *f.counts[3],
	}})
	if err != nil {
		return err
	}
	if *a.asJSON {
		return a.printJSON(rg)
	}
	r := rg.Resize
	note := "updated"
	if r.PolicyCreated {
		note = fmt.Sprintf("created (%s is shared with %s and stays unchanged)", r.PreviousPolicy, strings.Join(r.SharedWith, ", "))
	}
	if _, err := fmt.Fprintf(a.out, "group %s: scale policy %s %s\n", rg.Name, rg.ScalePolicy, note); err != nil {
		return err
	}
	rows := [][]string{{"REGION", "ROLE", "MIN", "MAX", "CAPACITY"}}
	add := func(region string, ls []smclient.Limit) {
		for _, l := range ls {
			rows = append(rows, []string{region, l.Role, strconv.Itoa(l.MinLimit), strconv.Itoa(l.MaxLimit), strconv.Itoa(l.ConnectionCapacity)})
		}
	}
	for _, reg := range r.Region {
		add(reg.Name, reg.Target)
	}
	add("(group)", r.Total)
	if err := writeTable(a.out, rows); err != nil {
		return err
	}
	_, err = io.WriteString(a.out, "The autoscaler applies the group's limits at its next evaluation.\n")
	return err
}

func (a *admin) nodes(ctx context.Context, c *smclient.Client, pos []string, showMap bool) error {
	if err := wantArgs("nodes", pos, 0, 1); err != nil {
		return err
	}
	var groups []string
	if len(pos) == 1 {
		groups = pos
	} else {
		gs, err := c.Groups(ctx)
		if err != nil {
			return err
		}
		for _, g := range gs {
			groups = append(groups, g.Name)
		}
	}
	if showMap {
		for _, g := range groups {
			m, err := c.NodeMap(ctx, g, true)
			if err != nil {
				return err
			}
			if _, err := io.WriteString(a.out, m); err != nil {
				return err
			}
		}
		return nil
	}
	var all []smclient.Node
	for _, g := range groups {
		ns, err := c.Nodes(ctx, g)
		if err != nil {
			return err
		}
		all = append(all, ns...)
	}
	if *a.asJSON {
		return a.printJSON(all)
	}
	rows := [][]string{{"IDENTIFIER", "GROUP", "ROLE", "STATE", "RTMP", "HTTP", "CAPACITY"}}
	for _, n := range all {
		state := n.State
		if n.Draining {
			state += " (draining)"
		}
		rows = append(rows, []string{
			n.Identifier, n.Group, n.Role, state, orDash(n.Address, n.RTMPAddr()),
			orDash(n.Address, n.HTTPAddr()), strconv.Itoa(n.Capacity),
		})
	}
	return writeTable(a.out, rows)
}

// writeTable writes rows as aligned columns, the first row as the header.
func writeTable(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		_, _ = io.WriteString(tw, strings.Join(r, "\t")+"\n") // buffered: write errors surface at Flush
	}
	return tw.Flush()
}

func orDash(cond, v string) string {
	if cond == "" {
		return "-"
	}
	return v
}

// document runs "get [name]" and "put <name> <file|->" on scale policies
// or launch configurations.
func (a *admin) document(ctx context.Context, pos []string, what string,
	list func(context.Context) ([]string, error),
	get func(context.Context, string) (json.RawMessage, error),
	put func(context.Context, string, json.RawMessage) (json.RawMessage, error),
) error {
	if len(pos) == 0 {
		return fmt.Errorf("%s: want get or put\n%s", what, adminUsage)
	}
	switch pos[0] {
	case "get":
		if err := wantArgs(what+" get", pos, 1, 2); err != nil {
			return err
		}
		if len(pos) == 1 {
			names, err := list(ctx)
			if err != nil {
				return err
			}
			return a.printJSON(names)
		}
		doc, err := get(ctx, pos[1])
		if err != nil {
			return err
		}
		return a.printJSON(doc)
	case "put":
		if err := wantArgs(what+" put", pos, 3, 3); err != nil {
			return err
		}
		var b []byte
		var err error
		if pos[2] == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(pos[2])
		}
		if err != nil {
			return fmt.Errorf("%s put: %w", what, err)
		}
		if !json.Valid(b) {
			return fmt.Errorf("%s put: %s is not valid JSON", what, pos[2])
		}
		doc, err := put(ctx, pos[1], b)
		if err != nil {
			return err
		}
		return a.printJSON(doc)
	default:
		return fmt.Errorf("%s: unknown action %q, want get or put", what, pos[0])
	}
}

func (a *admin) alarm(ctx context.Context, c *smclient.Client, pos []string) error {
	if len(pos) == 0 {
		return fmt.Errorf("alarm: want get or set\n%s", adminUsage)
	}
	switch pos[0] {
	case "get":
		if err := wantArgs("alarm get", pos, 1, 2); err != nil {
			return err
		}
		roles := []string{"origin", "edge"}
		if len(pos) == 2 {
			roles = pos[1:]
		}
		var out []smclient.Alarm
		for _, r := range roles {
			al, err := c.Alarm(ctx, r)
			if err != nil {
				return err
			}
			out = append(out, al)
		}
		return a.printJSON(out)
	case "set":
		if err := wantArgs("alarm set", pos, 3, 3); err != nil {
			return err
		}
		th, err := strconv.Atoi(strings.TrimSuffix(pos[2], "%"))
		if err != nil {
			return fmt.Errorf("alarm set: threshold %q is not a whole percentage", pos[2])
		}
		al, err := c.SetAlarm(ctx, pos[1], th)
		if err != nil {
			return err
		}
		return a.printJSON(al)
	default:
		return fmt.Errorf("alarm: unknown action %q, want get or set", pos[0])
	}
}

func (a *admin) events(ctx context.Context, c *smclient.Client, pos []string, group string, limit int) error {
	if err := wantArgs("events", pos, 0, 0); err != nil {
		return err
	}
	evs, err := c.ScalingEvents(ctx, smclient.ScalingEventFilter{Group: group, Limit: limit})
	if err != nil {
		return err
	}
	if *a.asJSON {
		return a.printJSON(evs)
	}
	rows := [][]string{{"TIME", "GROUP", "ROLE", "ACTION", "NODE", "REASON"}}
	for _, e := range evs {
		rows = append(rows, []string{e.At.Local().Format(time.DateTime), e.Group, e.Role, e.Action, orDash(e.NodeID, e.NodeID), e.Reason})
	}
	return writeTable(a.out, rows)
}

func (a *admin) node(ctx context.Context, c *smclient.Client, pos []string, force bool) error {
	if len(pos) == 0 {
		return fmt.Errorf("node: want terminate or sunset\n%s", adminUsage)
	}
	switch pos[0] {
	case "terminate":
		if err := wantArgs("node terminate", pos, 2, 2); err != nil {
			return err
		}
		n, err := c.TerminateNode(ctx, pos[1], force)
		if err != nil {
			return err
		}
		return a.printJSON(n)
	case "sunset":
		if err := wantArgs("node sunset", pos, 2, -1); err != nil {
			return err
		}
		ns, err := c.Sunset(ctx, pos[1:])
		if err != nil {
			return err
		}
		return a.printJSON(ns)
	default:
		return fmt.Errorf("node: unknown action %q, want terminate or sunset", pos[0])
	}
}

func (a *admin) lookup(ctx context.Context, c *smclient.Client, action string, pos []string) error {
	if err := wantArgs(action, pos, 1, 1); err != nil {
		return err
	}
	path := strings.Trim(pos[0], "/")
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return errors.New(action + ": want scope/stream, for example live/stream1")
	}
	scope, stream := path[:i], path[i+1:]
	var ep smclient.Endpoint
	var err error
	if action == "broadcast" {
		ep, err = c.Broadcast(ctx, scope, stream)
	} else {
		ep, err = c.Subscribe(ctx, scope, stream)
	}
	if err != nil {
		return err
	}
	return a.printJSON(ep)
}
