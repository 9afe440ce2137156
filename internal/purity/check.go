package purity

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strconv"
	"strings"
)

// Finding is one broken rule at one place.
type Finding struct {
	Pos     token.Position
	Rule    Rule
	Message string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: %s", f.Pos, f.Rule, f.Message)
}

// Package is one package to check.
type Package struct {
	// Path is the package's import path; the import and layer rules depend on it.
	Path string
	Fset *token.FileSet
	// Files are the files that build on this platform; they are type-checked.
	Files []*ast.File
	// OtherFiles are excluded by build constraints; only the rules that need no types apply.
	OtherFiles []*ast.File
}

// Check type-checks pkg with imp resolving its imports and returns every finding, sorted by
// position. A package that does not type-check gets RuleTypeCheck findings, and the type-based
// rules (calls, map ranges) are applied to whatever the checker could resolve.
func Check(pkg Package, imp types.Importer) []Finding {
	c := &checker{pkg: pkg}
	c.info = &types.Info{
		Types: map[ast.Expr]types.TypeAndValue{},
		Uses:  map[*ast.Ident]types.Object{},
	}
	conf := types.Config{
		Importer: imp,
		Error: func(err error) {
			if terr, ok := err.(types.Error); ok && !terr.Soft {
				c.report(terr.Pos, RuleTypeCheck, "%s", terr.Msg)
			}
		},
	}
	// Errors reach conf.Error; the returned error is the first of them.
	_, _ = conf.Check(pkg.Path, pkg.Fset, pkg.Files, c.info)
	for _, f := range pkg.Files {
		c.file(f, true)
	}
	for _, f := range pkg.OtherFiles {
		c.file(f, false)
	}
	sort.SliceStable(c.findings, func(i, j int) bool {
		a, b := c.findings[i].Pos, c.findings[j].Pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return c.findings
}

type checker struct {
	pkg      Package
	info     *types.Info
	findings []Finding
}

func (c *checker) report(pos token.Pos, rule Rule, format string, args ...any) {
	c.findings = append(c.findings, Finding{Pos: c.pkg.Fset.Position(pos), Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// file applies every rule to one file; typed says whether c.info covers it.
func (c *checker) file(f *ast.File, typed bool) {
	for _, spec := range f.Imports {
		path, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			continue // the parser already rejected it
		}
		if ok, why := importAllowed(c.pkg.Path, path); !ok {
			c.report(spec.Pos(), RuleImport, "import %q: %s", path, why)
		}
		if why := layerViolation(c.pkg.Path, path); why != "" {
			c.report(spec.Pos(), RuleLayer, "import %q: %s", path, why)
		}
	}
	hatches := c.mapRangeHatches(f)
	// sortedArgs holds the maps.Keys/Values/All calls passed straight to slices.Sorted*, whose
	// order therefore does not matter.
	sortedArgs := map[ast.Expr]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			c.report(n.Pos(), RuleGo, "go statement: core is single-threaded; the driver runs concurrent work")
		case *ast.SelectStmt:
			c.report(n.Pos(), RuleSelect, "select statement: core does not wait; it returns effects")
		case *ast.ChanType:
			c.report(n.Pos(), RuleChannel, "channel type: core exchanges events and effects, not channels")
		case *ast.SendStmt:
			c.report(n.Pos(), RuleChannel, "channel send")
		case *ast.UnaryExpr:
			if n.Op == token.ARROW {
				c.report(n.Pos(), RuleChannel, "channel receive")
			}
		case *ast.RangeStmt:
			if typed && isMap(c.info.TypeOf(n.X)) {
				c.mapRange(n, hatches)
			}
		case *ast.CallExpr:
			if !typed {
				break
			}
			// Inspect visits a call before its arguments, so slices.Sorted marks its argument
			// before the maps.Keys inside it is seen.
			pkgPath, name, ok := c.pkgFunc(n.Fun)
			switch {
			case ok && pkgPath == "slices" && sortingFuncs[name]:
				for _, arg := range n.Args {
					sortedArgs[ast.Unparen(arg)] = true
				}
			case ok && pkgPath == "maps" && mapOrderFuncs[name] && !sortedArgs[n]:
				c.report(n.Pos(), RuleMapRange, "maps.%s yields entries in map order: wrap it in slices.Sorted", name)
			}
		case *ast.Ident:
			if typed {
				c.use(n)
			}
		}
		return true
	})
	for _, h := range hatches {
		// Without types a map range cannot be recognised, so neither can an unused hatch.
		if typed && !h.used {
			c.report(h.pos, RuleMapRange, "%s is not on or just above a range over a map", allowMapRangeDirective)
		}
	}
}

// use flags a use of a forbidden package-level function, called or not (a function value of
// time.Now reads the clock just the same), qualified or dot-imported.
func (c *checker) use(id *ast.Ident) {
	obj, ok := c.info.Uses[id].(*types.Func)
	if !ok || obj.Pkg() == nil || obj.Parent() != obj.Pkg().Scope() {
		return // unresolved, not a function, or a method
	}
	if why := forbiddenFunc(obj.Pkg().Path(), obj.Name()); why != "" {
		c.report(id.Pos(), RuleCall, "%s.%s %s", obj.Pkg().Path(), obj.Name(), why)
	}
}

// pkgFunc resolves fun to a package-level function and returns its package path and name.
func (c *checker) pkgFunc(fun ast.Expr) (string, string, bool) {
	var id *ast.Ident
	switch f := ast.Unparen(fun).(type) {
	case *ast.SelectorExpr:
		id = f.Sel
	case *ast.IndexExpr: // an explicit instantiation, slices.Sorted[...](...)
		return c.pkgFunc(f.X)
	case *ast.IndexListExpr:
		return c.pkgFunc(f.X)
	case *ast.Ident:
		id = f
	default:
		return "", "", false
	}
	fn, ok := c.info.Uses[id].(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Parent() != fn.Pkg().Scope() {
		return "", "", false
	}
	return fn.Pkg().Path(), fn.Name(), true
}

// hatch is one //purity:allow-map-range comment.
type hatch struct {
	pos    token.Pos
	line   int
	reason string
	used   bool
}

// mapRangeHatches collects the file's escape-hatch comments.
func (c *checker) mapRangeHatches(f *ast.File) []*hatch {
	var hatches []*hatch
	for _, group := range f.Comments {
		for _, comment := range group.List {
			rest, ok := strings.CutPrefix(comment.Text, allowMapRangeDirective)
			if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
				continue
			}
			hatches = append(hatches, &hatch{
				pos:    comment.Pos(),
				line:   c.pkg.Fset.Position(comment.Pos()).Line,
				reason: strings.TrimSpace(rest),
			})
		}
	}
	return hatches
}

// mapRange reports a range over a map unless an escape hatch with a reason covers it.
func (c *checker) mapRange(n *ast.RangeStmt, hatches []*hatch) {
	line := c.pkg.Fset.Position(n.For).Line
	for _, h := range hatches {
		if h.line != line && h.line != line-1 {
			continue
		}
		h.used = true
		if h.reason == "" {
			c.report(n.For, RuleMapRange, "%s needs a reason: why the order cannot matter", allowMapRangeDirective)
		}
		return
	}
	c.report(n.For, RuleMapRange, "range over a map visits keys in random order: sort the keys or keep a slice "+
		"(or, if the order provably cannot matter, say why with %s <reason>)", allowMapRangeDirective)
}

// isMap reports whether t is a map, or a type parameter any of whose types is one.
func isMap(t types.Type) bool {
	if t == nil {
		return false
	}
	if tp, ok := t.(*types.TypeParam); ok {
		return constraintHasMap(tp.Constraint(), 0)
	}
	_, ok := t.Underlying().(*types.Map)
	return ok
}

// constraintHasMap reports whether a constraint's type set may hold a map. depth bounds the walk
// through embedded interfaces.
func constraintHasMap(t types.Type, depth int) bool {
	if depth > 16 {
		return false
	}
	switch u := t.Underlying().(type) {
	case *types.Map:
		return true
	case *types.Union:
		for term := range u.Terms() {
			if constraintHasMap(term.Type(), depth+1) {
				return true
			}
		}
	case *types.Interface:
		for i := 0; i < u.NumEmbeddeds(); i++ {
			if constraintHasMap(u.EmbeddedType(i), depth+1) {
				return true
			}
		}
	}
	return false
}
