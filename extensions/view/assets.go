package view

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// AssetsPath is the route prefix the pages link their stylesheet and script under, and where
// the App mounts Assets. It is under extensions.PathPrefix, spelled out because this package
// cannot import extensions.
const AssetsPath = "/extensions/assets/"

//go:embed assets
var assetFS embed.FS

// assetVersions maps each asset's name to a short hash of its content, put in the links as
// ?v=… so browsers may cache an asset for good and still fetch a new one after a deploy.
var assetVersions = func() map[string]string {
	m := map[string]string{}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[strings.TrimPrefix(p, "assets/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		panic(err) // embedded: cannot happen once it built
	}
	return m
}()

// assetURL links an asset with its version, for the templates' "asset".
func assetURL(name string) string {
	u := AssetsPath + name
	if v, ok := assetVersions[name]; ok {
		u += "?v=" + v
	}
	return u
}

// Assets serves the pages' stylesheet and script. Mount it on AssetsPath; it accepts the path
// with or without that prefix. A request carrying the asset's current ?v= is cacheable for
// a year; others for five minutes.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, AssetsPath)
		name = strings.TrimPrefix(name, "/")
		version, ok := assetVersions[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := assetFS.ReadFile("assets/" + name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		switch path.Ext(name) {
		case ".css":
			h.Set("Content-Type", "text/css; charset=utf-8")
		case ".js":
			h.Set("Content-Type", "text/javascript; charset=utf-8")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", `"`+version+`"`)
		if r.URL.Query().Get("v") == version {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=300")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	})
}
