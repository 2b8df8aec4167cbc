// s3probe drives Argo's own S3 artifact driver (workflow/artifacts/s3, what argoexec uses to save and load a
// step's artifacts) against an S3 server, for the real-servers tier. It is our code; the driver is upstream's,
// pinned by ../go.mod.
//
//	s3probe REPOSITORY_JSON OP KEY [PATH]
//
// REPOSITORY_JSON is the controller ConfigMap's `artifactRepository` as rendered ({"s3": {...}}); the access and
// secret keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (never arguments). OP is save (PATH, a file
// or a directory, to KEY), load (KEY to PATH), list (keys under KEY) or delete (KEY). It prints one JSON line:
// {"ok": true, "keys": [...]} or {"ok": false, "error": "..."} and exits 0 either way, 2 on bad usage.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/artifacts/s3"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: s3probe REPOSITORY_JSON save|load|list|delete KEY [PATH]")
		os.Exit(2)
	}
	var repo wfv1.ArtifactRepository
	if err := json.Unmarshal([]byte(os.Args[1]), &repo); err != nil || repo.S3 == nil {
		fmt.Fprintf(os.Stderr, "not an S3 artifact repository: %v\n", err)
		os.Exit(2)
	}
	op, key := os.Args[2], os.Args[3]
	path := ""
	if len(os.Args) > 4 {
		path = os.Args[4]
	}
	// what the executor builds from the repository (workflow/artifacts/artifacts.go newDriver, S3 case)
	driver := &s3.ArtifactDriver{
		Endpoint:  repo.S3.Endpoint,
		Region:    repo.S3.Region,
		Secure:    repo.S3.Insecure == nil || !*repo.S3.Insecure,
		AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
	}
	art := &wfv1.Artifact{Name: "probe", ArtifactLocation: wfv1.ArtifactLocation{S3: &wfv1.S3Artifact{S3Bucket: repo.S3.S3Bucket, Key: key}}}
	// the driver logs through the context's logger, set up as argoexec does (cmd/argoexec/commands/root.go), to stderr
	ctx := logging.WithLogger(context.Background(), logging.NewSlogLogger(logging.Info, logging.Text))
	var keys []string
	var err error
	switch op {
	case "save":
		err = driver.Save(ctx, path, art)
	case "load":
		err = driver.Load(ctx, art, path)
	case "list":
		keys, err = driver.ListObjects(ctx, art)
	case "delete":
		err = driver.Delete(ctx, art)
	default:
		fmt.Fprintf(os.Stderr, "unknown operation %q\n", op)
		os.Exit(2)
	}
	out := map[string]interface{}{"ok": err == nil}
	if err != nil {
		out["error"] = err.Error()
	}
	if keys != nil {
		out["keys"] = keys
	}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}
