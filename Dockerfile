# syntax=docker/dockerfile:1

# ---- build: a static binary, no cgo ------------------------------------------------
# The Go of go.mod's go line, exactly (internal/archtest checks they agree);
# GOTOOLCHAIN=local makes a mismatch fail instead of downloading another Go.
FROM golang:1.26.8 AS build
ENV GOTOOLCHAIN=local
WORKDIR /src

# BuildKit cache mounts keep the module cache (/go/pkg/mod) and the build
# cache (/root/.cache/go-build) across builds, so a source change recompiles
# only what changed and downloads nothing.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

# The build context has no .git (.dockerignore), so the version and commit come
# in as build arguments: docker build --build-arg VERSION="$(git describe --tags
# --always --dirty)" --build-arg COMMIT="$(git rev-parse HEAD)" . (docker compose
# passes VERSION and COMMIT from the shell's environment). Unset, the binary
# reports "(devel)".
ARG VERSION=""
ARG COMMIT=""
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath \
    -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/gatehouse ./cmd/gatehouse

# ---- run: distroless static, non-root (uid/gid 65532) ------------------------------
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /gatehouse
USER 65532:65532
EXPOSE 8080
ENV GATEHOUSE_HTTP_ADDR=:8080
# No shell in the image: the binary probes its own /readyz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/gatehouse", "healthcheck"]
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
