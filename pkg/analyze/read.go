package analyze

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/sqltool"
)

// Formats a migrations folder can have.
const (
	FormatGoose         = "goose"
	FormatGolangMigrate = "golang-migrate"
	FormatDBMate        = "dbmate"
	FormatFlyway        = "flyway"
	FormatLiquibase     = "liquibase"
	FormatSQL           = "sql" // plain .sql files, applied in name order
)

// ErrUnknownFormat is returned for a folder holding no SQL migrations tandem can read.
var ErrUnknownFormat = errors.New("no SQL migrations tandem can read")

// Skip is a file of the folder that was not analysed, and why.
type Skip struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// folder is a migrations folder read: its format, its SQL files in order, and what was
// left out.
type folder struct {
	format  string
	files   []migrate.File
	skipped []Skip
}

// readFolder detects the folder's format and reads its files with Atlas's readers.
func readFolder(dir, format string) (folder, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return folder{}, fmt.Errorf("reading migrations folder %s: %w", dir, err)
	}
	var sqlFiles, other []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if strings.HasSuffix(e.Name(), ".sql") {
			sqlFiles = append(sqlFiles, e.Name())
		} else {
			other = append(other, e.Name())
		}
	}
	f := folder{format: format}
	for _, o := range other {
		switch filepath.Ext(o) {
		case ".go":
			if !strings.HasSuffix(o, "_test.go") && !isEmbedOnly(filepath.Join(dir, o)) {
				f.skipped = append(f.skipped, Skip{o, "a Go migration: its statements are Go code, not analysed"})
			}
		case ".py":
			f.skipped = append(f.skipped, Skip{o, "a Python migration (Alembic?): not analysed; point --migrations at a folder of SQL"})
		case ".xml", ".yaml", ".yml", ".json":
			f.skipped = append(f.skipped, Skip{o, "a changelog that is not SQL: not analysed (Liquibase formatted SQL is)"})
		}
	}
	if len(sqlFiles) == 0 {
		what := "no .sql files"
		if len(f.skipped) > 0 {
			what = fmt.Sprintf("no .sql files, and %d that are not SQL (%s: %s)", len(f.skipped), f.skipped[0].File, f.skipped[0].Reason)
		}
		return f, fmt.Errorf("migrations folder %s: %w: %s", dir, ErrUnknownFormat, what)
	}
	if f.format == "" {
		f.format = detect(dir, sqlFiles)
	}
	var d interface {
		Files() ([]migrate.File, error)
	}
	switch f.format {
	case FormatGoose:
		d, err = sqltool.NewGooseDir(dir)
	case FormatGolangMigrate:
		d, err = sqltool.NewGolangMigrateDir(dir)
	case FormatDBMate:
		d, err = sqltool.NewDBMateDir(dir)
	case FormatFlyway:
		d, err = sqltool.NewFlywayDir(dir)
	case FormatLiquibase:
		d, err = sqltool.NewLiquibaseDir(dir)
	case FormatSQL:
		d, err = migrate.NewLocalDir(dir)
	default:
		return f, fmt.Errorf("migrations format %q: want one of goose, golang-migrate, dbmate, flyway, liquibase, sql", f.format)
	}
	if err != nil {
		return f, fmt.Errorf("reading migrations folder %s: %w", dir, err)
	}
	if f.files, err = d.Files(); err != nil {
		return f, fmt.Errorf("reading migrations folder %s as %s: %w", dir, f.format, err)
	}
	return f, nil
}

// detect tells the format from the file names and their pragmas.
func detect(dir string, names []string) string {
	for _, n := range names {
		if strings.HasSuffix(n, ".up.sql") {
			return FormatGolangMigrate
		}
		if len(n) > 1 && (n[0] == 'V' || n[0] == 'R') && strings.Contains(n, "__") {
			return FormatFlyway
		}
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		switch {
		case bytes.Contains(b, []byte("-- +goose Up")):
			return FormatGoose
		case bytes.Contains(b, []byte("-- migrate:up")):
			return FormatDBMate
		case bytes.Contains(b, []byte("--liquibase formatted sql")):
			return FormatLiquibase
		}
	}
	return FormatSQL
}

// isEmbedOnly reports whether a Go file of the folder only embeds or runs the SQL files
// (goose's embed.FS holder), not a migration of its own.
func isEmbedOnly(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	return !bytes.Contains(b, []byte("goose.AddMigration")) && !bytes.Contains(b, []byte("AddNamedMigration"))
}

// noTransaction reports whether the file asks to run outside a transaction.
func noTransaction(f migrate.File) bool {
	b := f.Bytes()
	return bytes.Contains(b, []byte("-- +goose NO TRANSACTION")) || bytes.Contains(b, []byte("-- migrate:up transaction:false"))
}

// line is the 1-based line of stmt's first line in the file, searching from offset; it
// returns the offset after the match. Atlas's positions are in a rewritten text for some
// formats, so the statement is found in the file's own bytes.
func line(content []byte, stmt string, from int) (int, int) {
	first, _, _ := strings.Cut(strings.TrimSpace(stmt), "\n")
	first = strings.TrimSpace(first)
	if from > len(content) {
		from = len(content)
	}
	i := bytes.Index(content[from:], []byte(first))
	if i < 0 {
		return 0, from
	}
	at := from + i
	return bytes.Count(content[:at], []byte("\n")) + 1, at + len(first)
}
