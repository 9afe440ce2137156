package purity

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// fixtureDir holds one small package per rule, each breaking only that rule, and clean/, which
// breaks none. A `// want rule...` comment names the findings expected on its line.
const fixtureDir = "../../testdata/purity"

// fixturePaths are the import paths the fixtures are checked as; the import and layer rules
// depend on the path.
var fixturePaths = map[string]string{
	"clean":               corePrefix + "/log",
	string(RuleImport):    corePrefix + "/log",
	string(RuleLayer):     corePrefix + "/log",
	string(RuleCall):      corePrefix + "/log",
	string(RuleGo):        corePrefix + "/log",
	string(RuleChannel):   corePrefix + "/log",
	string(RuleSelect):    corePrefix + "/log",
	string(RuleMapRange):  corePrefix + "/log",
	string(RuleTypeCheck): corePrefix + "/log",
}

var allRules = []Rule{RuleImport, RuleLayer, RuleCall, RuleGo, RuleChannel, RuleSelect, RuleMapRange, RuleTypeCheck}

func TestFixtures(t *testing.T) {
	entries, err := os.ReadDir(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	for _, rule := range allRules {
		if !slices.Contains(names, string(rule)) {
			t.Errorf("rule %s has no fixture in %s/%s", rule, fixtureDir, rule)
		}
	}

	fset := token.NewFileSet()
	fixtures := map[string][]*ast.File{}
	var stdImports []string
	for _, name := range names {
		files := parseFixture(t, fset, filepath.Join(fixtureDir, name))
		fixtures[name] = files
		for _, f := range files {
			for _, spec := range f.Imports {
				p, _ := strconv.Unquote(spec.Path.Value)
				if !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
					stdImports = append(stdImports, p)
				}
			}
		}
	}
	imp := fixtureImporter(t, fset, stdImports)

	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			pkgPath, ok := fixturePaths[name]
			if !ok {
				t.Fatalf("fixture %s has no import path in fixturePaths", name)
			}
			files := fixtures[name]
			want := wantedFindings(fset, files)
			if name == "clean" && len(want) != 0 {
				t.Fatalf("the clean fixture expects findings: %v", want)
			}
			if name != "clean" {
				if len(want) == 0 {
					t.Fatalf("fixture %s expects no finding: it proves nothing", name)
				}
				for _, w := range want {
					if !strings.HasSuffix(w, ": "+name) {
						t.Errorf("fixture %s expects %q: a fixture breaks exactly its own rule", name, w)
					}
				}
			}
			var got []string
			for _, f := range Check(Package{Path: pkgPath, Fset: fset, Files: files}, imp) {
				got = append(got, fmt.Sprintf("%s:%d: %s", filepath.Base(f.Pos.Filename), f.Pos.Line, f.Rule))
				t.Logf("%s", f)
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("findings differ\n got: %q\nwant: %q", got, want)
			}
		})
	}
}

// TestCheckOtherFiles checks that files excluded by build constraints still get the rules that
// need no types.
func TestCheckOtherFiles(t *testing.T) {
	fset := token.NewFileSet()
	src := "//go:build ignore\n\npackage gen\n\nimport \"os\"\n\nfunc f(m map[int]int) {\n\tgo os.Exit(0)\n\t//purity:allow-map-range unseen without types\n\tfor range m {\n\t}\n}\n"
	f, err := parser.ParseFile(fset, "gen.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var rules []Rule
	for _, finding := range Check(Package{Path: corePrefix + "/log", Fset: fset, OtherFiles: []*ast.File{f}}, nil) {
		rules = append(rules, finding.Rule)
	}
	// No map-range: without types a map cannot be told from a slice.
	if want := []Rule{RuleImport, RuleGo}; !slices.Equal(rules, want) {
		t.Errorf("got %v, want %v", rules, want)
	}
}

func TestLayerViolation(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		bad      bool
	}{
		{"log", "record", false},
		{"record", "log", true},
		{"log", "log/internal/index", false},
		{"log/internal/index", "log", false},
		{"replica", "log", false},
		{"log", "replica", true},
		{"broker", "replica", false},
		{"replica", "broker", true},
		{"log", "wire", true}, // same level
		{"nosuch", "record", true},
	} {
		got := layerViolation(corePrefix+"/"+tc.from, corePrefix+"/"+tc.to)
		if (got != "") != tc.bad {
			t.Errorf("%s imports %s: violation %q, want bad=%v", tc.from, tc.to, got, tc.bad)
		}
	}
	for _, component := range []string{"record", "log", "replica", "broker"} {
		if _, ok := coreLayers[component]; !ok {
			t.Errorf("DESIGN's chain record ← log ← replica ← broker: %s missing from the table", component)
		}
	}
}

func parseFixture(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("fixture %s has no Go files", dir)
	}
	return files
}

// wantedFindings collects the `// want rule...` annotations as sorted "file:line: rule" strings.
func wantedFindings(fset *token.FileSet, files []*ast.File) []string {
	var want []string
	for _, f := range files {
		for _, group := range f.Comments {
			for _, c := range group.List {
				i := strings.Index(c.Text, "// want ")
				if i < 0 {
					continue
				}
				pos := fset.Position(c.Pos())
				for _, rule := range strings.Fields(c.Text[i+len("// want "):]) {
					want = append(want, fmt.Sprintf("%s:%d: %s", filepath.Base(pos.Filename), pos.Line, rule))
				}
			}
		}
	}
	sort.Strings(want)
	return want
}

// fixtureImporter imports the standard library from export data and stands in an empty package
// for anything else: fixtures import other packages only to break the import rules.
func fixtureImporter(t *testing.T, fset *token.FileSet, stdImports []string) types.Importer {
	t.Helper()
	slices.Sort(stdImports)
	listed, err := goList(".", slices.Compact(stdImports)...)
	if err != nil {
		t.Fatal(err)
	}
	std := exportImporter(fset, listed)
	return importerFunc(func(p string) (*types.Package, error) {
		if strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
			pkg := types.NewPackage(p, path.Base(p))
			pkg.MarkComplete()
			return pkg, nil
		}
		return std.Import(p)
	})
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
