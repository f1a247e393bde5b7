// A go-tuf (v2) client for the interoperability tests (test/interop/go-tuf-client.test.ts): a TUF
// implementation independent of ours reads a repository made by the notsotuf CLI.
//
// Usage: go-tuf-client -metadata-url URL -targets-url URL -root FILE -workdir DIR [-no-download]
//
// It trusts FILE as its first root, refreshes (root chain, timestamp, snapshot, targets), then
// downloads every target that the top-level targets role lists into DIR/downloads. It prints one
// JSON object: {"ok":true,"root_version":N,"timestamp_version":N,"targets":{name:{length,sha256,path}}}
// or {"ok":false,"error":"<go-tuf error type>","message":"..."}, and exits 0 or 1.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

type target struct {
	Length int64  `json:"length"`
	Sha256 string `json:"sha256"`
	Path   string `json:"path"`
}

type report struct {
	Ok               bool              `json:"ok"`
	Error            string            `json:"error,omitempty"`
	Message          string            `json:"message,omitempty"`
	RootVersion      int64             `json:"root_version,omitempty"`
	TimestampVersion int64             `json:"timestamp_version,omitempty"`
	Targets          map[string]target `json:"targets,omitempty"`
}

// errorKind names the go-tuf error class of err (the tests assert on it), or "other". The most
// specific classes come first: go-tuf's Is methods also match the general ErrRepository.
func errorKind(err error) string {
	kinds := []struct {
		name   string
		target error
	}{
		{"ErrUnsignedMetadata", &metadata.ErrUnsignedMetadata{}},
		{"ErrLengthOrHashMismatch", &metadata.ErrLengthOrHashMismatch{}},
		{"ErrExpiredMetadata", &metadata.ErrExpiredMetadata{}},
		{"ErrBadVersionNumber", &metadata.ErrBadVersionNumber{}},
		{"ErrEqualVersionNumber", &metadata.ErrEqualVersionNumber{}},
		{"ErrDownloadLengthMismatch", &metadata.ErrDownloadLengthMismatch{}},
		{"ErrDownloadHTTP", &metadata.ErrDownloadHTTP{}},
		{"ErrRepository", &metadata.ErrRepository{}},
	}
	for _, k := range kinds {
		if errors.Is(err, k.target) {
			return k.name
		}
	}
	return "other"
}

func finish(r report) {
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	if r.Ok {
		os.Exit(0)
	}
	os.Exit(1)
}

func fail(err error) {
	finish(report{Ok: false, Error: errorKind(err), Message: err.Error()})
}

func sha256Of(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func main() {
	metadataURL := flag.String("metadata-url", "", "base URL of the metadata folder")
	targetsURL := flag.String("targets-url", "", "base URL of the targets folder")
	rootFile := flag.String("root", "", "the trusted root metadata file")
	workdir := flag.String("workdir", "", "the client's folder (metadata and downloads)")
	noDownload := flag.Bool("no-download", false, "refresh the metadata only")
	flag.Parse()
	if *metadataURL == "" || *targetsURL == "" || *rootFile == "" || *workdir == "" {
		fail(errors.New("-metadata-url, -targets-url, -root and -workdir are required"))
	}
	metaDir := filepath.Join(*workdir, "metadata")
	downloads := filepath.Join(*workdir, "downloads")
	for _, d := range []string{metaDir, downloads} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			fail(err)
		}
	}
	// A client in the field starts from its own trusted root once it has one.
	rootPath := filepath.Join(metaDir, "root.json")
	if _, err := os.Stat(rootPath); err != nil {
		rootPath = *rootFile
	}
	root, err := os.ReadFile(rootPath)
	if err != nil {
		fail(err)
	}
	cfg, err := config.New(*metadataURL, root)
	if err != nil {
		fail(err)
	}
	cfg.LocalMetadataDir = metaDir
	cfg.LocalTargetsDir = downloads
	cfg.RemoteTargetsURL = *targetsURL
	cfg.PrefixTargetsWithHash = true
	up, err := updater.New(cfg)
	if err != nil {
		fail(err)
	}
	if err := up.Refresh(); err != nil {
		fail(err)
	}
	trusted := up.GetTrustedMetadataSet()
	r := report{
		Ok:               true,
		RootVersion:      trusted.Root.Signed.Version,
		TimestampVersion: trusted.Timestamp.Signed.Version,
		Targets:          map[string]target{},
	}
	if !*noDownload {
		names := make([]string, 0, len(trusted.Targets[metadata.TARGETS].Signed.Targets))
		for name := range trusted.Targets[metadata.TARGETS].Signed.Targets {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			info, err := up.GetTargetInfo(name)
			if err != nil {
				fail(err)
			}
			path, _, err := up.DownloadTarget(info, filepath.Join(downloads, name), "")
			if err != nil {
				fail(err)
			}
			sum, err := sha256Of(path)
			if err != nil {
				fail(err)
			}
			r.Targets[name] = target{Length: info.Length, Sha256: sum, Path: path}
		}
	}
	finish(r)
}
