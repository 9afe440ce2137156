package memfs_test

import (
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

// TestNamespaceModel drives creates, removes, renames and directory syncs against a model of
// each directory's current and last-synced entries: List must give the current names in order,
// and a crash that loses everything unsynced must leave exactly each directory's synced names.
func TestNamespaceModel(t *testing.T) {
	dirs := []string{"/", "/d1", "/d2"}
	names := []string{"a", "b", "c", "d"}
	rapid.Check(t, func(t *rapid.T) {
		fs := memfs.New()
		current := map[string]map[string]bool{}
		synced := map[string]map[string]bool{}
		for _, d := range dirs {
			current[d] = map[string]bool{}
		}
		for _, d := range dirs[1:] {
			if err := fs.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			current["/"][d[1:]] = true
		}
		for _, d := range dirs {
			if err := diskio.SyncDir(fs, d); err != nil {
				t.Fatal(err)
			}
			synced[d] = maps.Clone(current[d])
		}
		t.Repeat(map[string]func(*rapid.T){
			"create": func(t *rapid.T) {
				d := rapid.SampledFrom(dirs[1:]).Draw(t, "dir")
				n := rapid.SampledFrom(names).Draw(t, "name")
				f, err := fs.OpenReadWrite(diskio.Join(d, n))
				if err != nil {
					t.Fatal(err)
				}
				f.Close()
				current[d][n] = true
			},
			"remove": func(t *rapid.T) {
				d := rapid.SampledFrom(dirs[1:]).Draw(t, "dir")
				n := rapid.SampledFrom(names).Draw(t, "name")
				err := fs.Remove(diskio.Join(d, n))
				if (err == nil) != current[d][n] {
					t.Fatalf("remove %s/%s: %v, model has it: %v", d, n, err, current[d][n])
				}
				delete(current[d], n)
			},
			"rename": func(t *rapid.T) {
				from := rapid.SampledFrom(dirs[1:]).Draw(t, "from")
				to := rapid.SampledFrom(dirs[1:]).Draw(t, "to")
				n1 := rapid.SampledFrom(names).Draw(t, "old")
				n2 := rapid.SampledFrom(names).Draw(t, "new")
				err := fs.Rename(diskio.Join(from, n1), diskio.Join(to, n2))
				if (err == nil) != current[from][n1] {
					t.Fatalf("rename %s/%s: %v, model has it: %v", from, n1, err, current[from][n1])
				}
				if err == nil && (from != to || n1 != n2) {
					delete(current[from], n1)
					current[to][n2] = true
				}
			},
			"syncdir": func(t *rapid.T) {
				d := rapid.SampledFrom(dirs).Draw(t, "dir")
				if err := diskio.SyncDir(fs, d); err != nil {
					t.Fatal(err)
				}
				synced[d] = maps.Clone(current[d])
			},
			"": func(t *rapid.T) {
				for _, d := range dirs {
					got, err := fs.List(d)
					if err != nil {
						t.Fatal(err)
					}
					if want := slices.Sorted(maps.Keys(current[d])); !slices.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
						t.Fatalf("List(%s) = %v, want %v", d, got, want)
					}
				}
			},
		})
		after := fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
		for _, d := range dirs {
			got, err := after.List(d)
			if err != nil {
				t.Fatal(err)
			}
			if want := slices.Sorted(maps.Keys(synced[d])); !slices.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
				t.Fatalf("after a crash, List(%s) = %v, want the synced %v", d, got, want)
			}
		}
	})
}
