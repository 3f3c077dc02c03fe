# syntax=docker/dockerfile:1

# ---- build: a static binary, no cgo ------------------------------------------------
FROM golang:1.26 AS build
WORKDIR /src

# Module downloads get their own layer, reused while go.mod/go.sum do not change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/gatehouse ./cmd/gatehouse

# ---- run: distroless static, non-root (uid/gid 65532) ------------------------------
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /gatehouse
USER 65532:65532
EXPOSE 8080
ENV GATEHOUSE_HTTP_ADDR=:8080
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
