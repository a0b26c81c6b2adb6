// Command ferretdb-launcher runs FerretDB 1.24 (a MongoDB wire-protocol server) on its SQLite backend.
//
// `go install` of FerretDB's own cmd/ferretdb panics at start (its build expects a generated
// version.txt the module lacks), so Sportello embeds the ferretdb package instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data", "", "existing directory for the SQLite databases")
	flag.Parse()

	if *dataDir == "" {
		log.Fatal("ferretdb-launcher: -data is required")
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		log.Fatalf("ferretdb-launcher: cannot create %s: %v", *dataDir, err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/",
	})
	if err != nil {
		log.Fatalf("ferretdb-launcher: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	fmt.Printf("ferretdb-launcher: listening on %s, data in %s\n", *listen, *dataDir)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatalf("ferretdb-launcher: %v", err)
	}
}
