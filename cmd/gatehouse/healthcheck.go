package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthcheckTimeout bounds the whole probe; a container healthcheck's own
// timeout (compose: 5s) should be longer.
const healthcheckTimeout = 3 * time.Second

// healthcheck is `gatehouse healthcheck`: GET /readyz of the serve process
// on this host, at GATEHOUSE_HTTP_ADDR (an empty or unspecified host means
// 127.0.0.1). Nil only for a 200. It reads that one variable: no store is
// opened and no other configuration is needed, so it runs in the image
// (which has no shell or curl) beside serve.
func healthcheck(ctx context.Context, env map[string]string, args []string) error {
	if len(args) != 0 {
		return errors.New("usage: gatehouse healthcheck (probes GET /readyz at GATEHOUSE_HTTP_ADDR)")
	}
	target, err := readyzURL(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	req.Header.Set("User-Agent", "gatehouse-healthcheck")
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, // never through a proxy
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // only /readyz itself counts
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", target, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", target, resp.Status)
	}
	return nil
}

// readyzURL is the readiness URL of the local serve.
func readyzURL(env map[string]string) (string, error) {
	addr, set := env[envPrefix+"HTTP_ADDR"]
	if !set || strings.TrimSpace(addr) == "" {
		addr = envDefault("HTTP_ADDR")
	}
	host, port, err := net.SplitHostPort(strings.TrimSpace(addr))
	if err != nil || port == "" {
		return "", fmt.Errorf("healthcheck: GATEHOUSE_HTTP_ADDR %q is not host:port", addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		// serve listens on every interface (":8080", "0.0.0.0:8080",
		// "[::]:8080"): ask over IPv4 loopback, which each of them accepts.
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}
