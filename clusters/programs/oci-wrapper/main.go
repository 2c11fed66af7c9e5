// oci-wrapper sits between a container engine and a real OCI runtime (runc,
// crun). Before `create`/`run` it edits the bundle's config.json, and before
// `exec --process` the process JSON, so that containers ask only for what this
// machine can grant; then it execs the real runtime with the same arguments.
//
//	oci-wrapper --runtime /usr/bin/runc [--bounding-only] [--drop-cap CAP_X]...
//	            [--min-oom-score-adj N] [--record FILE] [--oci-version V]
//	            [--drop-resource NAME]... -- <runtime arguments>
//
// --bounding-only keeps only the capabilities in the wrapper's own bounding
// set: an engine that grants "all capabilities" it knows of (CRI-O, Docker)
// otherwise asks for some this machine or node does not have, and runc fails
// with "unable to apply caps".
//
// --record appends one line per create/run to FILE: how the test bed proves
// that a RuntimeClass handler was really used.
//
// --oci-version rewrites the bundle's ociVersion: Debian bookworm's crun 1.8.1
// refuses specs newer than it knows ("unknown version specified": a prefix
// check, not a semver comparison), and containerd 2.x and CRI-O 1.3x write
// runtime-spec 1.2; the fields it reads are the same.
//
// --drop-resource removes linux.resources.NAME: crun 1.8's systemd driver on
// cgroup v1 writes hugepageLimits into the container's scope in the hugetlb
// hierarchy, where systemd never makes one (runc makes it itself), and the
// create fails; the kubelet's limits there are 0 for pods that ask for none.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

type options struct {
	runtime      string
	boundingOnly bool
	dropCaps     multi
	minOOMScore  int
	clampOOM     bool
	record       string
	ociVersion   string
	dropResource multi
}

func main() {
	opts, runtimeArgs := parseOptions(os.Args[1:])
	if err := adjust(opts, runtimeArgs); err != nil {
		fmt.Fprintf(os.Stderr, "oci-wrapper: %v\n", err)
		os.Exit(1)
	}
	argv := append([]string{opts.runtime}, runtimeArgs...)
	err := syscall.Exec(opts.runtime, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "oci-wrapper: exec %s: %v\n", opts.runtime, err)
	os.Exit(127)
}

func parseOptions(args []string) (options, []string) {
	var opts options
	fs := flag.NewFlagSet("oci-wrapper", flag.ExitOnError)
	fs.StringVar(&opts.runtime, "runtime", "/usr/bin/runc", "real OCI runtime to exec")
	fs.BoolVar(&opts.boundingOnly, "bounding-only", false, "keep only capabilities in our own bounding set")
	fs.Var(&opts.dropCaps, "drop-cap", "capability to remove from every set (repeatable)")
	fs.IntVar(&opts.minOOMScore, "min-oom-score-adj", 0, "raise process.oomScoreAdj to at least this")
	fs.StringVar(&opts.record, "record", "", "append a line per container created to this file")
	fs.StringVar(&opts.ociVersion, "oci-version", "", "set the bundle's ociVersion to this")
	fs.Var(&opts.dropResource, "drop-resource", "remove linux.resources.NAME from the spec (repeatable)")
	_ = fs.Parse(args)
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "min-oom-score-adj" {
			opts.clampOOM = true
		}
	})
	return opts, fs.Args()
}

// subcommand finds the runtime verb after the global options (--root X, --log X ...).
func subcommand(args []string) (string, []string) {
	withValue := map[string]bool{"--root": true, "--log": true, "--log-format": true,
		"--criu": true, "--rootless": true, "--cgroup-manager": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return a, args[i+1:]
		}
		if withValue[a] {
			i++
		}
	}
	return "", nil
}

func flagValue(args []string, names ...string) string {
	for i, a := range args {
		for _, n := range names {
			if a == n && i+1 < len(args) {
				return args[i+1]
			}
			if strings.HasPrefix(a, n+"=") {
				return strings.TrimPrefix(a, n+"=")
			}
		}
	}
	return ""
}

func adjust(opts options, args []string) error {
	verb, rest := subcommand(args)
	switch verb {
	case "create", "run":
		bundle := flagValue(rest, "--bundle", "-b")
		if bundle == "" {
			bundle = "."
		}
		config := filepath.Join(bundle, "config.json")
		if err := editJSON(config, func(spec map[string]any) {
			if p, ok := spec["process"].(map[string]any); ok {
				fixProcess(opts, p)
			}
			if opts.ociVersion != "" {
				spec["ociVersion"] = opts.ociVersion
			}
			if linux, ok := spec["linux"].(map[string]any); ok {
				if resources, ok := linux["resources"].(map[string]any); ok {
					for _, name := range opts.dropResource {
						delete(resources, name)
					}
				}
			}
		}); err != nil {
			return err
		}
		return record(opts, verb, rest)
	case "exec":
		if process := flagValue(rest, "--process", "-p"); process != "" {
			return editJSON(process, func(p map[string]any) { fixProcess(opts, p) })
		}
	}
	return nil
}

func fixProcess(opts options, process map[string]any) {
	drop := append([]string(nil), opts.dropCaps...)
	if opts.boundingOnly {
		drop = append(drop, missingFromBoundingSet()...)
	}
	if caps, ok := process["capabilities"].(map[string]any); ok && len(drop) > 0 {
		for set, list := range caps {
			caps[set] = without(list, drop)
		}
	}
	if score, ok := process["oomScoreAdj"].(float64); ok && opts.clampOOM && int(score) < opts.minOOMScore {
		process["oomScoreAdj"] = opts.minOOMScore
	}
}

func without(list any, drop []string) any {
	items, ok := list.([]any)
	if !ok {
		return list
	}
	kept := make([]any, 0, len(items))
	for _, item := range items {
		name, _ := item.(string)
		dropped := false
		for _, d := range drop {
			dropped = dropped || name == d
		}
		if !dropped {
			kept = append(kept, item)
		}
	}
	return kept
}

func editJSON(path string, edit func(map[string]any)) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	edit(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o600)
}

func record(opts options, verb string, rest []string) error {
	if opts.record == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(opts.record), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(opts.record, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	id := ""
	if len(rest) > 0 {
		id = rest[len(rest)-1]
	}
	_, err = fmt.Fprintf(f, "%s %s container=%s runtime=%s bundle=%s\n",
		time.Now().UTC().Format(time.RFC3339Nano), verb, id, opts.runtime, flagValue(rest, "--bundle", "-b"))
	return err
}

// capabilityBits numbers the capabilities as in linux/capability.h.
var capabilityBits = []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID",
	"KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
	"NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
	"SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE",
	"MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE"}

// missingFromBoundingSet names the known capabilities absent from CapBnd.
func missingFromBoundingSet() []string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	var bounding uint64
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "CapBnd:") {
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "CapBnd:")), "%x", &bounding)
		}
	}
	var missing []string
	for bit, name := range capabilityBits {
		if bounding&(1<<uint(bit)) == 0 {
			missing = append(missing, "CAP_"+name)
		}
	}
	return missing
}
