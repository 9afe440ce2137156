package buggify

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// B decides, per run, which sites are enabled and, per use, whether an enabled site fires.
// Not safe for concurrent use: it belongs to one state machine's event loop.
type B struct {
	rng         *rand.Rand
	enableOneIn int
	fireOneIn   int
	sites       map[string]*siteState
	planted     []Bug
}

type siteState struct {
	enabled       bool
	checks, fires int64
}

// Options shape a B. FoundationDB enables a site in a quarter of runs and fires an enabled
// one a quarter of the time: often enough to matter, rarely enough that the common path still
// runs.
type Options struct {
	// EnableOneIn: a site is enabled for the run with probability 1/EnableOneIn, decided at
	// its first use (1: every site is enabled).
	EnableOneIn int
	// FireOneIn: an enabled site fires with probability 1/FireOneIn at each use (1: always).
	FireOneIn int
	// Planted are the deliberate bugs switched on (plant.go): only tests that prove the
	// simulator catches them set this.
	Planted []Bug
}

// DefaultOptions are FoundationDB's odds.
func DefaultOptions() Options { return Options{EnableOneIn: 4, FireOneIn: 4} }

// New returns a B drawing from rng, which it owns from now on (give it its own stream, so
// buggify's draws never shift another component's).
func New(rng *rand.Rand, opts Options) *B {
	if rng == nil || opts.EnableOneIn < 1 || opts.FireOneIn < 1 {
		panic("buggify: invariant: New needs a PRNG and odds of at least 1 in 1")
	}
	for _, bug := range opts.Planted {
		if !slices.Contains(Bugs, bug) {
			panic("buggify: invariant: unknown planted bug " + string(bug))
		}
	}
	return &B{rng: rng, enableOneIn: opts.EnableOneIn, fireOneIn: opts.FireOneIn, sites: make(map[string]*siteState),
		planted: slices.Clone(opts.Planted)}
}

// Fire reports whether the rare path at site is taken now. A nil B never fires.
func (b *B) Fire(site string) bool {
	if b == nil {
		return false
	}
	s, ok := b.sites[site]
	if !ok {
		s = &siteState{enabled: b.rng.IntN(b.enableOneIn) == 0}
		b.sites[site] = s
	}
	s.checks++
	if !s.enabled || b.rng.IntN(b.fireOneIn) != 0 {
		return false
	}
	s.fires++
	return true
}

// SiteStats is one site's counts in a run.
type SiteStats struct {
	Site          string
	Enabled       bool
	Checks, Fires int64
}

// Stats lists every site used so far, by name.
func (b *B) Stats() []SiteStats {
	if b == nil {
		return nil
	}
	out := make([]SiteStats, 0, len(b.sites))
	for _, name := range slices.Sorted(maps.Keys(b.sites)) {
		s := b.sites[name]
		out = append(out, SiteStats{Site: name, Enabled: s.enabled, Checks: s.checks, Fires: s.fires})
	}
	return out
}

// String is the run summary's line: the sites that fired, with their counts.
func (b *B) String() string {
	var parts []string
	for _, s := range b.Stats() {
		if s.Fires > 0 {
			parts = append(parts, s.Site+"="+strconv.FormatInt(s.Fires, 10))
		}
	}
	if len(parts) == 0 {
		return "buggify: none fired"
	}
	return "buggify: " + strings.Join(parts, " ")
}
