package containertest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// instructions returns the Dockerfile at path as instructions, one per entry: comments and
// blank lines dropped, continuation lines joined.
func instructions(tb testing.TB, path string) []string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	cont := false
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cont {
			out[len(out)-1] += " " + strings.TrimSuffix(line, `\`)
		} else {
			out = append(out, strings.TrimSuffix(line, `\`))
		}
		cont = strings.HasSuffix(line, `\`)
	}
	return out
}

// stage returns the instructions of the stage named name, FROM line included.
func stage(tb testing.TB, ins []string, name string) []string {
	tb.Helper()
	for i, in := range ins {
		if strings.HasPrefix(in, "FROM ") && strings.HasSuffix(in, " AS "+name) {
			end := i + 1
			for end < len(ins) && !strings.HasPrefix(ins[end], "FROM ") {
				end++
			}
			return ins[i:end]
		}
	}
	tb.Fatalf("no stage %q", name)
	return nil
}

// froms returns the images and stages the Dockerfile builds FROM.
func froms(ins []string) []string {
	var out []string
	for _, in := range ins {
		if f := strings.Fields(in); len(f) >= 2 && f[0] == "FROM" {
			out = append(out, f[1])
		}
	}
	return out
}

// TestRuntimeStagesMatch keeps the two ways of building the App's image one image: the source
// build (Dockerfile) and the offline one (docker/app-prebuilt.Dockerfile) share the runtime
// stage word for word and only add files to it; the offline ones start from nothing.
func TestRuntimeStagesMatch(t *testing.T) {
	t.Parallel()
	source := instructions(t, "../Dockerfile")
	offline := instructions(t, "../docker/app-prebuilt.Dockerfile")
	if diff := cmp.Diff(stage(t, source, "runtime"), stage(t, offline, "runtime")); diff != "" {
		t.Errorf("the runtime stages differ (-Dockerfile +docker/app-prebuilt.Dockerfile):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"golang:${GO_VERSION}", "scratch", "runtime"}, froms(source)); diff != "" {
		t.Errorf("Dockerfile FROM (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"scratch", "runtime"}, froms(offline)); diff != "" {
		t.Errorf("docker/app-prebuilt.Dockerfile must pull nothing; FROM (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"scratch"}, froms(instructions(t, "../docker/devstore.Dockerfile"))); diff != "" {
		t.Errorf("docker/devstore.Dockerfile must pull nothing; FROM (-want +got):\n%s", diff)
	}
	// Both final stages add files only: the image's user, ports and entry point are runtime's.
	for name, ins := range map[string][]string{"Dockerfile": source, "docker/app-prebuilt.Dockerfile": offline} {
		last := len(ins) - 1
		for last >= 0 && !strings.HasPrefix(ins[last], "FROM ") {
			last--
		}
		for _, in := range ins[last+1:] {
			if !strings.HasPrefix(in, "COPY ") {
				t.Errorf("%s: the final stage has %q; only COPY belongs there", name, in)
			}
		}
	}
}
