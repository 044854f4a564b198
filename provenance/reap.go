package provenance

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// LeftoverPolicy says what Run does about processes the build leaves
// running when its top process exits. Either way they are ended before Run
// returns: nothing the build started outlives it, acts during the hashing,
// quoting and signing, or lingers into the next job.
type LeftoverPolicy int

const (
	// LeftoversEnd ends them, reports them (RunResult.Ended) and attests.
	LeftoversEnd LeftoverPolicy = iota
	// LeftoversRefuse ends them, reports them, and refuses to attest
	// (Attest returns a *LeftoverError).
	LeftoversRefuse
)

// ParseLeftoverPolicy parses "end" or "refuse".
func ParseLeftoverPolicy(s string) (LeftoverPolicy, error) {
	switch s {
	case "end", "":
		return LeftoversEnd, nil
	case "refuse":
		return LeftoversRefuse, nil
	}
	return 0, fmt.Errorf("leftover processes policy %q: want end or refuse", s)
}

// EndedProcess is a process of the build that was still running after the
// build's top process exited, and that Run ended (SIGKILL).
type EndedProcess struct {
	PID  int    `json:"pid"`
	PPID int    `json:"ppid"`
	UID  int    `json:"uid"`
	Comm string `json:"comm"`
	// Via says how it was found: "cgroup" (in the build's cgroup),
	// "process group" (in the build's), or "adopted" (reparented to
	// attest-build, the child subreaper, or a descendant of such a process).
	Via string `json:"via"`
}

func (p EndedProcess) String() string {
	return fmt.Sprintf("pid %d %q (uid %d, %s)", p.PID, p.Comm, p.UID, p.Via)
}

// LeftoverError reports a build that left processes running under
// LeftoversRefuse: they were ended and nothing was attested.
type LeftoverError struct {
	Ended []EndedProcess
}

func (e *LeftoverError) Error() string {
	return fmt.Sprintf("the build left %d process(es) running after it exited (%s); they were ended and, as asked (--leftovers refuse), no attestation was written", len(e.Ended), describeEnded(e.Ended))
}

// describeEnded lists ended processes for a message, at most 10.
func describeEnded(ps []EndedProcess) string {
	var parts []string
	for i, p := range ps {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-10))
			break
		}
		parts = append(parts, p.String())
	}
	return strings.Join(parts, "; ")
}

// reaper finds and ends what a build leaves behind. Run makes attest-build a
// child subreaper (PR_SET_CHILD_SUBREAPER) for the build's lifetime, so
// orphans of the build (double forks, setsid daemons) are reparented to it
// rather than to init, and, where the cgroup v2 hierarchy lets it, starts the
// build in a cgroup of its own.
type reaper struct {
	self       int
	before     map[int]bool // attest-build's children before the build
	prevReaper bool
	cgroup     string   // the build's cgroup directory, or ""
	cgroupFD   *os.File // open on cgroup, for clone3(CLONE_INTO_CGROUP)
	// CgroupNote says why the build has no cgroup of its own.
	cgroupNote string
}

// newReaper makes attest-build a child subreaper and prepares a cgroup.
func newReaper() (*reaper, error) {
	r := &reaper{self: os.Getpid()}
	var prev int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&prev)), 0, 0, 0); err == nil {
		r.prevReaper = prev != 0
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("becoming the build's child subreaper: %w", err)
	}
	procs, err := listProcs()
	if err != nil {
		r.close()
		return nil, fmt.Errorf("listing processes before the build: %w", err)
	}
	r.before = map[int]bool{}
	for pid, p := range procs {
		if p.ppid == r.self {
			r.before[pid] = true
		}
	}
	r.cgroup, r.cgroupFD, r.cgroupNote = makeCgroup()
	return r, nil
}

// dropCgroup gives up the cgroup (the build could not be started in it).
func (r *reaper) dropCgroup(why error) {
	if r.cgroupFD != nil {
		r.cgroupFD.Close()
		r.cgroupFD = nil
	}
	if r.cgroup != "" {
		_ = os.Remove(r.cgroup)
		r.cgroup = ""
	}
	r.cgroupNote = fmt.Sprintf("starting the build in a cgroup failed: %v", why)
}

// close restores the subreaper flag and removes the cgroup.
func (r *reaper) close() {
	if !r.prevReaper {
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	}
	if r.cgroupFD != nil {
		r.cgroupFD.Close()
	}
	if r.cgroup != "" {
		// Emptied by end; a task that has just been killed leaves the
		// cgroup as it exits, so retry briefly.
		for i := 0; i < 100; i++ {
			if err := os.Remove(r.cgroup); err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// maxEndRounds bounds the scan-and-kill rounds of end (a fork bomb racing
// the kills).
const maxEndRounds = 1000

// end ends every process of the build still running after its top process
// (top, also its process group's id) exited but before it was reaped: the
// build's cgroup (cgroup.kill), its process group, attest-build's children
// other than those it had before the build (orphans adopted as subreaper),
// and all their descendants. Each is sent SIGKILL; rounds repeat until a scan
// finds none alive, and adopted ones are reaped. A process that cannot be
// signalled (another user's, without the privilege and outside a cgroup) is
// an error naming it.
func (r *reaper) end(top int) ([]EndedProcess, error) {
	ended := map[int]EndedProcess{}
	var order []int
	note := func(p procInfo, via string) {
		if _, ok := ended[p.pid]; !ok {
			ended[p.pid] = EndedProcess{PID: p.pid, PPID: p.ppid, UID: p.uid, Comm: p.comm, Via: via}
			order = append(order, p.pid)
		}
	}
	cannot := map[int]error{}
	for round := 0; ; round++ {
		if round == maxEndRounds {
			return sortedEnded(ended, order), fmt.Errorf("ending the build's processes: still finding new ones after %d rounds", maxEndRounds)
		}
		procs, err := listProcs()
		if err != nil {
			return sortedEnded(ended, order), fmt.Errorf("ending the build's processes: %w", err)
		}
		inCgroup := map[int]bool{}
		if r.cgroup != "" {
			for _, pid := range r.cgroupProcs() {
				inCgroup[pid] = true
			}
		}
		// Members: the cgroup, the process group, adopted children; then
		// their descendants.
		via := map[int]string{}
		for pid, p := range procs {
			switch {
			case pid == top || pid == r.self:
			case inCgroup[pid]:
				via[pid] = "cgroup"
			case p.pgid == top:
				via[pid] = "process group"
			case p.ppid == r.self && !r.before[pid]:
				via[pid] = "adopted"
			}
		}
		children := map[int][]int{}
		for pid, p := range procs {
			children[p.ppid] = append(children[p.ppid], pid)
		}
		queue := make([]int, 0, len(via))
		for pid := range via {
			queue = append(queue, pid)
		}
		for len(queue) > 0 {
			pid := queue[0]
			queue = queue[1:]
			for _, c := range children[pid] {
				if _, ok := via[c]; !ok && c != r.self && c != top {
					via[c] = via[pid]
					queue = append(queue, c)
				}
			}
		}
		alive, zombies := 0, []int{}
		for pid, v := range via {
			p := procs[pid]
			if p.state == 'Z' || p.state == 'X' {
				if p.ppid == r.self {
					zombies = append(zombies, pid)
				}
				continue
			}
			if _, bad := cannot[pid]; bad {
				continue
			}
			alive++
			note(p, v)
		}
		for _, pid := range zombies {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
		if alive == 0 {
			break
		}
		if r.cgroup != "" && len(inCgroup) > 0 {
			// One atomic kill of the whole cgroup, whatever the
			// processes' user: no fork escapes it.
			if err := os.WriteFile(filepath.Join(r.cgroup, "cgroup.kill"), []byte("1"), 0); err != nil {
				for pid := range inCgroup {
					_ = unix.Kill(pid, unix.SIGKILL)
				}
			}
		}
		for pid := range via {
			if p := procs[pid]; p.state == 'Z' || p.state == 'X' || inCgroup[pid] {
				continue
			}
			if _, bad := cannot[pid]; bad {
				continue
			}
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				cannot[pid] = err
			}
		}
		time.Sleep(time.Millisecond)
	}
	out := sortedEnded(ended, order)
	if len(cannot) > 0 {
		var parts []string
		for _, e := range out {
			if err, ok := cannot[e.PID]; ok {
				parts = append(parts, fmt.Sprintf("%s: %v", e, err))
			}
		}
		return out, fmt.Errorf("the build left processes running that attest-build cannot end (%s): run attest-build with the privilege to signal them, or give the build a cgroup of its own (see docs/threat-model.md)", strings.Join(parts, "; "))
	}
	return out, nil
}

func sortedEnded(m map[int]EndedProcess, order []int) []EndedProcess {
	out := make([]EndedProcess, 0, len(order))
	for _, pid := range order {
		out = append(out, m[pid])
	}
	slices.SortStableFunc(out, func(a, b EndedProcess) int { return a.PID - b.PID })
	return out
}

// cgroupProcs lists the processes in the build's cgroup.
func (r *reaper) cgroupProcs() []int {
	data, err := os.ReadFile(filepath.Join(r.cgroup, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// noCgroup, set by tests, makes makeCgroup decline.
var noCgroup bool

// makeCgroup creates a cgroup v2 for the build under attest-build's own and
// opens it. Where that is not possible (no cgroup v2, no write access to the
// own cgroup: a runner service without Delegate=yes, a container), it
// returns the reason instead.
func makeCgroup() (dir string, fd *os.File, note string) {
	if noCgroup {
		return "", nil, "no cgroup for the build: disabled"
	}
	own, err := ownCgroup()
	if err != nil {
		return "", nil, err.Error()
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	dir = filepath.Join(own, fmt.Sprintf("attest-build.%d.%s", os.Getpid(), hex.EncodeToString(rnd[:])))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", nil, fmt.Sprintf("no cgroup for the build: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err != nil {
		os.Remove(dir)
		return "", nil, "no cgroup for the build: the kernel has no cgroup.kill (Linux 5.14 or later)"
	}
	f, err := os.Open(dir)
	if err != nil {
		os.Remove(dir)
		return "", nil, fmt.Sprintf("no cgroup for the build: %v", err)
	}
	return dir, f, ""
}

// ownCgroup returns the directory of attest-build's cgroup in the cgroup v2
// hierarchy (also where the v1 and v2 hierarchies are mounted side by side).
func ownCgroup() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("no cgroup for the build: %w", err)
	}
	var rel string
	found := false
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			rel, found = p, true
		}
	}
	if !found {
		return "", errors.New("no cgroup for the build: not in a cgroup v2 hierarchy")
	}
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("no cgroup for the build: %w", err)
	}
	defer mi.Close()
	sc := bufio.NewScanner(mi)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		f := strings.Fields(pre)
		if len(f) < 5 {
			continue
		}
		root, mnt := unescapeMount(f[3]), unescapeMount(f[4])
		r := strings.TrimPrefix(rel, root)
		if root != "/" && r == rel {
			continue // our cgroup is not under this mount's root
		}
		return filepath.Join(mnt, r), nil
	}
	return "", errors.New("no cgroup for the build: no cgroup2 file system is mounted")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// procInfo is a process as /proc/PID/stat shows it.
type procInfo struct {
	pid, ppid, pgid, uid int
	state                byte
	comm                 string
}

// listProcs reads every process's stat. A process that exits meanwhile is
// left out.
func listProcs() (map[int]procInfo, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := make(map[int]procInfo, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		p, err := readProc(pid)
		if err != nil {
			continue
		}
		out[pid] = p
	}
	return out, nil
}

func readProc(pid int) (procInfo, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	data, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procInfo{}, err
	}
	// PID (COMM) STATE PPID PGRP ...; COMM may hold any byte, ')' too.
	open, close := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || close < open {
		return procInfo{}, fmt.Errorf("%s/stat: malformed", dir)
	}
	f := strings.Fields(string(data[close+1:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return procInfo{}, fmt.Errorf("%s/stat: malformed", dir)
	}
	p := procInfo{pid: pid, state: f[0][0], comm: string(data[open+1 : close]), uid: -1}
	if p.ppid, err = strconv.Atoi(f[1]); err != nil {
		return procInfo{}, fmt.Errorf("%s/stat: ppid: %w", dir, err)
	}
	if p.pgid, err = strconv.Atoi(f[2]); err != nil {
		return procInfo{}, fmt.Errorf("%s/stat: pgrp: %w", dir, err)
	}
	if fi, err := os.Stat(dir); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			p.uid = int(st.Uid)
		}
	}
	return p, nil
}
