package purity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// listedPackage is the part of `go list -json` output the checker reads.
type listedPackage struct {
	ImportPath     string
	Dir            string
	Export         string
	GoFiles        []string
	CgoFiles       []string
	IgnoredGoFiles []string
	DepOnly        bool
}

// goList runs `go list -e -export -deps -json` in dir. Export data comes from the build cache,
// so this compiles what is not cached. A package that does not compile has no export data; its
// importers then fail to type-check, which Check reports.
func goList(dir string, patterns ...string) ([]listedPackage, error) {
	args := append([]string{"list", "-e", "-export", "-deps", "-json=ImportPath,Dir,Export,GoFiles,CgoFiles,IgnoredGoFiles,DepOnly"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var pkgs []listedPackage
	dec := json.NewDecoder(&stdout)
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("purity: decoding go list output: %w (stderr: %s)", err, stderr.String())
		}
		pkgs = append(pkgs, p)
	}
	// With -e, go list exits non-zero when a package fails to build but still lists it; only
	// an empty listing is fatal here.
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("purity: go list %v: %v: %s", patterns, runErr, stderr.String())
	}
	return pkgs, nil
}

// exportImporter imports packages from the export data files go list named.
func exportImporter(fset *token.FileSet, pkgs []listedPackage) types.Importer {
	exports := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		exports[p.ImportPath] = p.Export
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file := exports[path]
		if file == "" {
			return nil, fmt.Errorf("no export data for %q: it is not a dependency, or it does not compile", path)
		}
		return os.Open(file)
	})
}

// CheckPatterns checks the packages that match the go list patterns, run in dir (a directory
// of the module), and returns every finding with file names relative to dir.
func CheckPatterns(dir string, patterns ...string) ([]Finding, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("purity: %w", err)
	}
	listed, err := goList(dir, patterns...)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	imp := exportImporter(fset, listed)
	var findings []Finding
	for _, lp := range listed {
		if lp.DepOnly {
			continue
		}
		pkg := Package{Path: lp.ImportPath, Fset: fset}
		var parseFindings []Finding
		pkg.Files, parseFindings = parseFiles(fset, lp.Dir, append(append([]string(nil), lp.GoFiles...), lp.CgoFiles...))
		findings = append(findings, parseFindings...)
		pkg.OtherFiles, parseFindings = parseFiles(fset, lp.Dir, lp.IgnoredGoFiles)
		findings = append(findings, parseFindings...)
		findings = append(findings, Check(pkg, imp)...)
	}
	for i := range findings {
		if rel, err := filepath.Rel(dir, findings[i].Pos.Filename); err == nil {
			findings[i].Pos.Filename = rel
		}
	}
	return findings, nil
}

// parseFiles parses the named files of dir with comments (escape hatches are comments). A file
// that does not parse is a RuleTypeCheck finding: nothing can be said about it.
func parseFiles(fset *token.FileSet, dir string, names []string) ([]*ast.File, []Finding) {
	var files []*ast.File
	var findings []Finding
	for _, name := range names {
		path := filepath.Join(dir, name)
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			findings = append(findings, Finding{Pos: token.Position{Filename: path}, Rule: RuleTypeCheck, Message: err.Error()})
			continue
		}
		files = append(files, f)
	}
	return files, findings
}
