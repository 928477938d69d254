// Command swinghealth is the containers' health check: it asks a gRPC server's standard health
// service (grpc.health.v1.Health/Check) whether it is SERVING.
//
//	swinghealth [--timeout 2s] [--service NAME] ADDR
//
// ADDR is HOST:PORT or unix:PATH. Exit status 0 when SERVING, 1 when the server answers
// anything else or cannot be reached, 64 on a bad command line.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	fs := flag.NewFlagSet("swinghealth", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 2*time.Second, "deadline of the whole check")
	service := fs.String("service", "", "service name to check (empty: the server as a whole)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: swinghealth [--timeout 2s] [--service NAME] ADDR")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(64)
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		fs.Usage()
		os.Exit(64)
	}
	if *timeout <= 0 {
		fmt.Fprintln(os.Stderr, "swinghealth: --timeout must be positive")
		os.Exit(64)
	}
	addr := fs.Arg(0)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conn, err := grpc.DialContext(ctx, addr, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fmt.Fprintf(os.Stderr, "swinghealth: %s: cannot connect: %v\n", addr, err)
		os.Exit(1)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: *service})
	if err != nil {
		fmt.Fprintf(os.Stderr, "swinghealth: %s: %v\n", addr, err)
		os.Exit(1)
	}
	fmt.Printf("%s: %s\n", addr, resp.GetStatus())
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		os.Exit(1)
	}
}
