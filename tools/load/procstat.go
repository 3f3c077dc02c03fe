package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is the unit of the utime/stime/cutime/cstime fields of
// /proc/PID/stat: USER_HZ, which Linux fixes at 100 for user space on every
// architecture (sysconf(_SC_CLK_TCK)); the standard library cannot ask
// sysconf without cgo, so it is a constant here.
const clockTicks = 100

// procStat is what the tool uses of one /proc/PID/stat line.
type procStat struct {
	pid, ppid      int
	minflt         int64 // minor page faults of the process itself
	utime, stime   int64 // clock ticks spent by the process itself
	cutime, cstime int64 // clock ticks of its reaped (waited-for) children
}

// parseProcStat parses one /proc/PID/stat line. The command name (field 2)
// is in parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')'.
func parseProcStat(line string) (procStat, error) {
	open := strings.IndexByte(line, '(')
	closing := strings.LastIndexByte(line, ')')
	if open < 1 || closing < open {
		return procStat{}, errors.New("no (comm) field")
	}
	var s procStat
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return procStat{}, fmt.Errorf("pid: %w", err)
	}
	s.pid = pid
	// rest[0] is field 3 (state), so field n is rest[n-3].
	rest := strings.Fields(line[closing+1:])
	if len(rest) < 17-3+1 {
		return procStat{}, fmt.Errorf("only %d fields after comm", len(rest))
	}
	field := func(n int) (int64, error) {
		v, err := strconv.ParseInt(rest[n-3], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("field %d: %w", n, err)
		}
		return v, nil
	}
	var ppid int64
	for n, dst := range map[int]*int64{4: &ppid, 10: &s.minflt, 14: &s.utime, 15: &s.stime, 16: &s.cutime, 17: &s.cstime} {
		if *dst, err = field(n); err != nil {
			return procStat{}, err
		}
	}
	s.ppid = int(ppid)
	return s, nil
}

func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	s, err := parseProcStat(string(data))
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return s, nil
}

// cpuSample is a CPU-time reading of a process (and possibly its children).
type cpuSample struct {
	ticks    int64
	children int   // live direct children that were summed
	minflt   int64 // minor page faults (processCPU only)
}

func (a cpuSample) msSince(b cpuSample) float64 {
	return float64(a.ticks-b.ticks) * 1000 / clockTicks
}

// processCPU is utime+stime of pid (all its threads) and its minor page
// faults: the first touch of memory the kernel must zero, such as heap the
// Go runtime returned to the kernel and allocates again.
func processCPU(pid int) (cpuSample, error) {
	s, err := readProcStat(pid)
	if err != nil {
		return cpuSample{}, err
	}
	return cpuSample{ticks: s.utime + s.stime, minflt: s.minflt}, nil
}

// treeCPU is utime+stime of root, plus utime+stime of every live process
// whose parent is root (for a PostgreSQL postmaster: its backends and
// auxiliary processes), plus root's cutime+cstime so that children which
// exited (and were reaped by root) between two readings are still counted.
func treeCPU(root int) (cpuSample, error) {
	r, err := readProcStat(root)
	if err != nil {
		return cpuSample{}, err
	}
	out := cpuSample{ticks: r.utime + r.stime + r.cutime + r.cstime}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return cpuSample{}, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == root {
			continue
		}
		s, err := readProcStat(pid)
		if err != nil || s.ppid != root {
			continue // gone meanwhile, or not a child
		}
		out.ticks += s.utime + s.stime
		out.children++
	}
	return out, nil
}
