/**
 * The default images, pinned, in one place. Every construct takes its image as a prop; these are the
 * defaults and the README says why each was chosen.
 */
export const DefaultImages = {
  /**
   * MinIO stopped publishing community images after RELEASE.2025-10-15 (source-only distribution, minio/minio#21647)
   * and the Docker Hub repositories are gone; this is the last multi-arch server image on quay.io.
   */
  MINIO: 'quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z',
  /** The last `mc` client image on quay.io, used by the bucket/user setup Job. */
  MINIO_CLIENT: 'quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z',
  /** Official Postgres, Alpine variant: runs as uid 70. */
  POSTGRES: 'postgres:17.11-alpine3.24',
  /**
   * The official MLflow image's `-full` variant (MLflow >= 3.9): it ships psycopg2 and boto3, which the plain image lacks
   * (mlflow/mlflow#9513, resolved by #19979).
   */
  MLFLOW: 'ghcr.io/mlflow/mlflow:v3.17.0-full',
  /** Argo Workflows controller (v4; upstream manifests say `latest`: pinned here). Runs as uid 8737. */
  ARGO_CONTROLLER: 'quay.io/argoproj/workflow-controller:v4.1.4',
  /** Argo server (UI and API), same release as the controller. Runs as uid 8737. */
  ARGO_SERVER: 'quay.io/argoproj/argocli:v4.1.4',
  /** The non-root Argo executor (the plain `argoexec` image runs as root). Runs as uid 8737. */
  ARGO_EXECUTOR: 'quay.io/argoproj/argoexec:v4.1.4-nonroot',
  /**
   * SeaweedFS, the default object store (Apache-2.0). 4.53 is the release the real-servers tier builds from source
   * (test/cluster/tools/seaweedfs/go.mod); runs as its `seaweed` user, uid 1000.
   */
  SEAWEEDFS: 'chrislusf/seaweedfs:4.53',
  /** Python standard library only, for the credentials Job, SeaweedFS's identities file, bucket setup and backup uploads. */
  PYTHON: 'python:3.13.14-slim',
  /**
   * The delivery's checkout, test and render steps: the official Node 22 image on Debian bookworm (not `-slim`), which
   * holds git (node's Dockerfile builds on buildpack-deps:bookworm, which installs git). The Node release `.ci/run` pins.
   */
  NODE: 'node:22.23.3-bookworm',
  /**
   * go-containerregistry's crane with a busybox shell (`/busybox/sh`), for the delivery's restricted build: it appends
   * the code as one layer to a pinned base image and pushes it, running no build steps, so it needs no root. Versioned
   * debug images live in their own repository (`crane/debug:<tag>`, cmd/crane/README.md).
   */
  CRANE: 'gcr.io/go-containerregistry/crane/debug:v0.22.1',
  /**
   * kaniko from its maintained fork (upstream GoogleContainerTools/kaniko was archived in June 2025): it unpacks the base
   * image into its own root and runs the Dockerfile's steps, so it needs root with the default capabilities: Pod
   * Security "baseline", only in the build namespace labelled for it.
   */
  KANIKO: 'ghcr.io/osscontainertools/kaniko:v1.28.5',
} as const;
