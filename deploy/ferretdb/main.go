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
	sync := flag.String("sync", "normal", "SQLite synchronous mode: full (fsync every commit) or normal")
	flag.Parse()

	if *dataDir == "" {
		log.Fatal("ferretdb-launcher: -data is required")
	}
	if *sync != "full" && *sync != "normal" {
		log.Fatalf("ferretdb-launcher: -sync must be full or normal, not %q", *sync)
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		log.Fatalf("ferretdb-launcher: cannot create %s: %v", *dataDir, err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		// In WAL mode, synchronous=normal syncs the log at checkpoints, not at every commit: a
		// crash of this process loses nothing, a power loss may lose the last commits. That is
		// MongoDB's own default ({w: 1}: acknowledged before the journal's next 100 ms flush).
		SQLiteURL: "file:" + *dataDir + "/?_pragma=synchronous(" + *sync + ")",
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
