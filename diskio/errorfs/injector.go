package errorfs

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/weirdata/weir/diskio"
)

// Injector decides, for each operation, whether it fails. A non-nil error fails the operation;
// the built-in injectors return errors wrapping diskio.ErrInjected. Injectors are consulted in
// operation order and must be safe for concurrent use.
type Injector interface {
	MaybeError(op Op) error
}

// InjectorFunc adapts a function to Injector.
type InjectorFunc func(op Op) error

// MaybeError implements Injector.
func (f InjectorFunc) MaybeError(op Op) error { return f(op) }

func injected(op Op) error {
	return fmt.Errorf("%w (%s)", diskio.ErrInjected, op.Kind)
}

// Never fails nothing; Wrap(fs, Never()) is fs with operation classification and nothing else.
func Never() Injector { return InjectorFunc(func(Op) error { return nil }) }

// Always fails every operation it is asked about; combine it with When.
func Always() Injector { return InjectorFunc(func(op Op) error { return injected(op) }) }

// IndexInjector fails the operation with a given index among those it sees, counting from 0.
type IndexInjector struct {
	mu    sync.Mutex
	index int64
	count int64
}

// OnIndex returns an injector failing the index-th operation (0-based) it sees, and only that
// one. An error sweep fails each k in turn:
//
//	for k := int64(0); ; k++ {
//		inj := errorfs.OnIndex(k)
//		err := run(errorfs.Wrap(memfs.New(), inj))
//		if inj.Count() <= k {
//			break // run made fewer than k+1 operations: it ran clean, err must be nil
//		}
//		// err must report the failure (errors.Is(err, diskio.ErrInjected)), or recovery
//		// must cope with it
//	}
func OnIndex(index int64) *IndexInjector { return &IndexInjector{index: index} }

// MaybeError implements Injector.
func (ii *IndexInjector) MaybeError(op Op) error {
	ii.mu.Lock()
	defer ii.mu.Unlock()
	i := ii.count
	ii.count++
	if i == ii.index {
		return fmt.Errorf("%w (%s, operation %d)", diskio.ErrInjected, op.Kind, i)
	}
	return nil
}

// Count reports how many operations the injector has seen.
func (ii *IndexInjector) Count() int64 {
	ii.mu.Lock()
	defer ii.mu.Unlock()
	return ii.count
}

// Predicate selects operations.
type Predicate func(op Op) bool

// Kinds selects operations of the given kinds.
func Kinds(kinds ...OpKind) Predicate {
	var set [opKindCount]bool
	for _, k := range kinds {
		set[k] = true
	}
	return func(op Op) bool { return op.Kind >= 0 && op.Kind < opKindCount && set[op.Kind] }
}

// Mutating selects operations that can change what is stored (OpKind.Mutates).
func Mutating() Predicate { return func(op Op) bool { return op.Kind.Mutates() } }

// PathPrefix selects operations on paths starting with prefix (either name, for Rename).
func PathPrefix(prefix string) Predicate {
	return PathMatch(func(path string) bool { return strings.HasPrefix(path, prefix) })
}

// PathMatch selects operations on paths match accepts (either name, for Rename).
func PathMatch(match func(path string) bool) Predicate {
	return func(op Op) bool { return match(op.Path) || (op.NewPath != "" && match(op.NewPath)) }
}

// And selects operations every predicate selects.
func And(preds ...Predicate) Predicate {
	return func(op Op) bool {
		for _, p := range preds {
			if !p(op) {
				return false
			}
		}
		return true
	}
}

// When consults inj only for operations pred selects; others pass without inj seeing them, so
// When(Kinds(OpSync), OnIndex(2)) fails the third sync.
func When(pred Predicate, inj Injector) Injector {
	return InjectorFunc(func(op Op) error {
		if !pred(op) {
			return nil
		}
		return inj.MaybeError(op)
	})
}

// OnKinds fails every operation of the given kinds.
func OnKinds(kinds ...OpKind) Injector { return When(Kinds(kinds...), Always()) }

// OnPathPrefix fails every operation on a path starting with prefix.
func OnPathPrefix(prefix string) Injector { return When(PathPrefix(prefix), Always()) }

// Or consults every injector, in order, and returns the first error. All are consulted even
// after one fails, so index counters stay in step with the operations.
func Or(injs ...Injector) Injector {
	return InjectorFunc(func(op Op) error {
		var first error
		for _, inj := range injs {
			if err := inj.MaybeError(op); err != nil && first == nil {
				first = err
			}
		}
		return first
	})
}

// MillionthsMax is the rate meaning "always" for Random.
const MillionthsMax = 1_000_000

type randomInjector struct {
	mu         sync.Mutex
	rng        *rand.Rand
	millionths int
}

// Random fails each operation it sees with probability rateMillionths/1,000,000, drawn from a
// PRNG seeded with seed: the same seed and the same operations fail the same way. (Integer
// rates keep the decision free of floating point.)
func Random(seed uint64, rateMillionths int) Injector {
	return RandomFrom(rand.New(rand.NewPCG(seed, 0x6572726f72667321)), rateMillionths)
}

// RandomFrom is Random drawing from rng, which the injector then owns: nothing else may use it.
func RandomFrom(rng *rand.Rand, rateMillionths int) Injector {
	if rateMillionths < 0 || rateMillionths > MillionthsMax {
		panic(fmt.Sprintf("errorfs: rate %d millionths is outside [0, %d]", rateMillionths, MillionthsMax))
	}
	return &randomInjector{rng: rng, millionths: rateMillionths}
}

func (ri *randomInjector) MaybeError(op Op) error {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	if ri.rng.IntN(MillionthsMax) < ri.millionths {
		return injected(op)
	}
	return nil
}

// Toggle switches an injector on and off; it starts off. Tests set up state cleanly, then
// switch faults on.
type Toggle struct {
	mu  sync.Mutex
	on  bool
	inj Injector
}

// NewToggle returns a switched-off Toggle over inj.
func NewToggle(inj Injector) *Toggle { return &Toggle{inj: inj} }

// On switches injection on.
func (t *Toggle) On() { t.set(true) }

// Off switches injection off.
func (t *Toggle) Off() { t.set(false) }

func (t *Toggle) set(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on = on
}

// MaybeError implements Injector; while off, inj does not see operations.
func (t *Toggle) MaybeError(op Op) error {
	t.mu.Lock()
	on := t.on
	t.mu.Unlock()
	if !on {
		return nil
	}
	return t.inj.MaybeError(op)
}
