// Command notes is a small notes API on PostgreSQL, shipped with its schema migration by
// tandem: `notes serve` runs the service, `notes migrate up` the migration Job.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tandem-ci/tandem/examples/go-postgres/internal/api"
	"github.com/tandem-ci/tandem/examples/go-postgres/internal/migrations"
	"github.com/tandem-ci/tandem/examples/go-postgres/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

// run is main without the process: it reads DATABASE_URL (and PORT, MIGRATIONS_DIR).
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	dsn := getenv("DATABASE_URL")
	if dsn == "" {
		return errors.New("DATABASE_URL is not set (the Job and the Deployment read it from the same Secret)")
	}
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "migrate":
		if len(args) > 1 && args[1] != "up" {
			return fmt.Errorf("migrate %s: only up is supported", args[1])
		}
		var fsys fs.FS = migrations.FS
		if dir := getenv("MIGRATIONS_DIR"); dir != "" {
			fsys = os.DirFS(dir)
		}
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		v, err := migrations.Up(ctx, db, fsys)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "schema at version %d\n", v)
		return nil
	case "serve":
		return serve(ctx, dsn, getenv("PORT"))
	}
	return fmt.Errorf("unknown command %q: use serve or migrate up", cmd)
}

func serve(ctx context.Context, dsn, port string) error {
	if port == "" {
		port = "8080"
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer pool.Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	version := func(ctx context.Context) (int64, error) { return migrations.Version(ctx, db) }
	srv := &http.Server{Addr: ":" + port, Handler: api.Handler(store.New(pool), version, migrations.Expected), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
