//go:build container

package containertest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/7targets/zenvia-sales-app/internal/testport"
)

// The images TestMain builds, tagged per run and removed after it.
var appImage, storeImage string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "containertest: no Docker daemon answers `docker info`: %v\n%s", err, out)
		return 1
	}
	// Ryuk, testcontainers' reaper, is an image from a registry; the tests remove their own
	// containers, so they run without it unless told otherwise.
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}

	run := randomHex(4)
	appImage, storeImage = "zenvia-7targets:containertest-"+run, "zenvia-7targets-devstore:containertest-"+run
	start := time.Now()
	build := exec.Command("bash", "../docker/build-offline.sh")
	build.Env = append(os.Environ(), "APP_IMAGE="+appImage, "STORE_IMAGE="+storeImage)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "containertest: building the images: %v\n%s", err, out)
		return 1
	}
	fmt.Fprintf(os.Stderr, "containertest: built %s and %s offline in %s\n", appImage, storeImage, time.Since(start).Round(100*time.Millisecond))
	defer func() {
		if out, err := exec.Command("docker", "image", "rm", "-f", appImage, storeImage).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "containertest: removing the images: %v\n%s", err, out)
		}
	}()
	return m.Run()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hostNetwork runs a container in the host's network namespace: it reaches the fakes this
// process serves on 127.0.0.1, and this process reaches it on its own loopback port.
var hostNetwork = testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
	hc.NetworkMode = "host"
})

// startContainer runs image with env and waits for ready. The container is removed when the
// test ends, after its logs are shown if the test failed. It is safe on any goroutine.
func startContainer(ctx context.Context, tb testing.TB, name, image string, env map[string]string, ready wait.Strategy) (*testcontainers.DockerContainer, error) {
	ctr, err := testcontainers.Run(ctx, image,
		testcontainers.WithEnv(env),
		hostNetwork,
		testcontainers.WithWaitStrategy(ready),
	)
	testcontainers.CleanupContainer(tb, ctr)
	if ctr != nil {
		tb.Cleanup(func() {
			if tb.Failed() {
				dumpLogs(tb, name, ctr)
			}
		})
	}
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return ctr, nil
}

func dumpLogs(tb testing.TB, name string, ctr *testcontainers.DockerContainer) {
	tb.Helper()
	rc, err := ctr.Logs(context.Background())
	if err != nil {
		tb.Logf("logs of %s: %v", name, err)
		return
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	tb.Logf("logs of %s:\n%s", name, b)
}

// startStore runs the development store image on a free loopback port and returns its URI.
func startStore(ctx context.Context, tb testing.TB) string {
	tb.Helper()
	port := testport.Free(tb)
	_, err := startContainer(ctx, tb, "store", storeImage,
		map[string]string{"STORE_ADDR": "127.0.0.1:" + strconv.Itoa(port)},
		wait.ForLog(`"msg":"serving"`).WithStartupTimeout(60*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	return "mongodb://127.0.0.1:" + strconv.Itoa(port) + "/"
}

// app is one App container.
type app struct {
	name string
	url  string // http://127.0.0.1:<port>, also its PUBLIC_BASE_URL
	ctr  *testcontainers.DockerContainer
}

// startApp runs the App image on the loopback port with env and waits until Docker reports
// its HEALTHCHECK healthy and it answers /readyz (its database is reachable).
// It may run on its own goroutine: it reports failures by its error, not through tb.
func startApp(ctx context.Context, tb testing.TB, name string, port int, env map[string]string) (*app, error) {
	a := &app{name: name, url: "http://127.0.0.1:" + strconv.Itoa(port)}
	full := map[string]string{"PORT": strconv.Itoa(port), "PUBLIC_BASE_URL": a.url}
	maps.Copy(full, env)
	ctr, err := startContainer(ctx, tb, name, appImage, full,
		wait.ForHealthCheck().WithStartupTimeout(90*time.Second).WithPollInterval(250*time.Millisecond))
	if err != nil {
		return nil, err
	}
	a.ctr = ctr
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(a.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return a, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s is healthy but not ready: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill ends the container with SIGKILL, as a crash or an OOM kill would: no shutdown code runs.
func (a *app) kill(ctx context.Context, tb testing.TB) {
	tb.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer cli.Close()
	if err := cli.ContainerKill(ctx, a.ctr.GetContainerID(), "KILL"); err != nil {
		tb.Fatalf("killing %s: %v", a.name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := a.ctr.State(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if !st.Running {
			if st.ExitCode != 137 {
				tb.Errorf("%s exit code %d after SIGKILL, want 137", a.name, st.ExitCode)
			}
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s still running after SIGKILL", a.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkUnprivileged checks the container runs as the image's numeric non-root user: in its
// configuration and, where this process sees the daemon's processes (Docker on this machine),
// in the kernel's view of its main process.
func checkUnprivileged(ctx context.Context, tb testing.TB, a *app) {
	tb.Helper()
	info, err := a.ctr.Inspect(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if info.Config.User != "65532:65532" {
		tb.Errorf("%s runs as user %q, want 65532:65532", a.name, info.Config.User)
	}
	if info.State.Health == nil || info.State.Health.Status != container.Healthy {
		tb.Errorf("%s health = %+v, want healthy", a.name, info.State.Health)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(info.State.Pid) + "/status")
	if err != nil {
		tb.Logf("cannot see the process of %s (%v): checked its configuration only", a.name, err)
		return
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 5 && (f[0] == "Uid:" || f[0] == "Gid:") {
			for _, id := range f[1:] {
				if id != "65532" {
					tb.Errorf("%s process %s, want 65532 throughout", a.name, line)
				}
			}
		}
	}
}
