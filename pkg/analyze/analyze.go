package analyze

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	_ "ariga.io/atlas/sql/postgres/postgrescheck" // registers the open analyzers for PostgreSQL
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlcheck"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Config is one analysis.
type Config struct {
	// Dir is the migrations folder; Format its format ("" detects it).
	Dir, Format string
	// Display is the folder as findings name it (default Dir), e.g. its repository path.
	Display string
	// DatabaseURL is a PostgreSQL database to run on: with Replay, an empty scratch
	// database the live files are applied to first; without, one holding the live schema
	// (the pre-flight's, after the live release's migration). It is left as it was
	// before the new files: they run in one transaction that is rolled back.
	DatabaseURL string
	Replay      bool
	// Since is the version of the last live file: the files after it are analysed.
	// Empty: with Replay, every file but the last is live; without, the version the
	// migration tool recorded in the database (goose, golang-migrate, dbmate, Flyway).
	Since string
}

// Severity of a finding: errors fail, warnings do not.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Finding is one hazard of one statement.
type Finding struct {
	Code      string   `json:"code"`
	Severity  Severity `json:"severity"`
	File      string   `json:"file"`
	Line      int      `json:"line"`
	Statement string   `json:"statement"`
	// Message says what the statement does; Production what that means on a live
	// database; Fix the usual way out.
	Message    string `json:"message"`
	Production string `json:"production,omitempty"`
	Fix        string `json:"fix,omitempty"`
	// Allowed: a `-- tandem:allow CODE "reason"` comment above the statement accepts it.
	Allowed bool   `json:"allowed,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// String is the finding as one report line (and its explanation when not allowed).
func (f Finding) String() string {
	stmt, _, _ := strings.Cut(strings.TrimSpace(f.Statement), "\n")
	if len(stmt) > 80 {
		stmt = stmt[:77] + "..."
	}
	s := fmt.Sprintf("%s:%d: %s %s: %s `%s`", f.File, f.Line, f.Severity, f.Code, f.Message, stmt)
	if f.Allowed {
		return s + fmt.Sprintf(" (allowed: %s)", f.Reason)
	}
	if f.Production != "" {
		s += "\n    in production: " + f.Production
	}
	if f.Fix != "" {
		s += "\n    fix: " + f.Fix
	}
	return s
}

// Lock is a relation lock a statement took.
type Lock struct {
	Relation string `json:"relation"`
	Mode     string `json:"mode"` // as SQL names it: ACCESS EXCLUSIVE, SHARE, …
}

// Statement is one statement of a new file, as measured.
type Statement struct {
	Line int    `json:"line"`
	Text string `json:"text"`
	// Locks are the locks it took on relations that existed before the new files.
	Locks []Lock `json:"locks,omitempty"`
	// Rewritten are the tables it rewrote (a new relfilenode).
	Rewritten []string `json:"rewritten,omitempty"`
	// NoTransaction: it cannot run in a transaction (CREATE INDEX CONCURRENTLY, or its
	// file runs without one): reported, not run.
	NoTransaction bool          `json:"noTransaction,omitempty"`
	Error         string        `json:"error,omitempty"`
	Duration      time.Duration `json:"duration"`

	// hadCheck: a validated CHECK (… IS NOT NULL) on the column existed before a SET NOT NULL.
	hadCheck bool
}

// Measured is the statement's measurement in the report's words.
func (s Statement) Measured() string {
	switch {
	case s.Error != "":
		return "failed: " + s.Error
	case s.NoTransaction:
		return "cannot run in a transaction: not measured"
	}
	var parts []string
	for _, l := range s.Locks {
		parts = append(parts, l.Mode+" on "+l.Relation)
	}
	if len(parts) == 0 {
		parts = append(parts, "no lock on an existing table")
	}
	for _, t := range s.Rewritten {
		parts = append(parts, t+" rewritten")
	}
	return strings.Join(parts, ", ")
}

// File is one new file analysed.
type File struct {
	Name       string        `json:"name"`
	Statements []Statement   `json:"statements"`
	Duration   time.Duration `json:"duration"`
}

// Report is the whole analysis.
type Report struct {
	Dir      string        `json:"dir"`
	Format   string        `json:"format"`
	Live     []string      `json:"live"` // the files taken as live (replayed or recorded)
	Files    []File        `json:"files"`
	Skipped  []Skip        `json:"skipped,omitempty"`
	Findings []Finding     `json:"findings"`
	Duration time.Duration `json:"duration"`
}

// Errors counts the findings that fail (not allowed errors).
func (r Report) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SeverityError && !f.Allowed {
			n++
		}
	}
	return n
}

// Summary is the report in one line.
func (r Report) Summary() string {
	stmts := 0
	for _, f := range r.Files {
		stmts += len(f.Statements)
	}
	s := fmt.Sprintf("%d new files (%d statements) after %d live, %d findings, %d errors", len(r.Files), stmts, len(r.Live), len(r.Findings), r.Errors())
	if len(r.Skipped) > 0 {
		s += fmt.Sprintf(", %d files not analysed", len(r.Skipped))
	}
	return s
}

// ErrDatabase is returned when the database cannot be reached or read.
var ErrDatabase = errors.New("analysis database")

// Analyze runs the analysis of cfg.
func Analyze(ctx context.Context, cfg Config) (Report, error) {
	start := time.Now()
	rep := Report{Dir: or(cfg.Display, cfg.Dir), Findings: []Finding{}}
	defer func() { rep.Duration = time.Since(start) }()
	fo, err := readFolder(cfg.Dir, cfg.Format)
	rep.Format, rep.Skipped = fo.format, fo.skipped
	if err != nil {
		return rep, err
	}
	db, err := sql.Open("pgx", cfg.DatabaseURL)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	since := cfg.Since
	if since == "" && !cfg.Replay {
		if since, err = liveVersion(ctx, db, fo.format); err != nil {
			return rep, err
		}
	}
	live, fresh := split(fo.files, since, cfg.Replay)
	for _, f := range live {
		rep.Live = append(rep.Live, f.Name())
	}
	if cfg.Replay {
		for _, f := range live {
			if err := replay(ctx, db, f); err != nil {
				return rep, fmt.Errorf("replaying the live file %s: %w", f.Name(), err)
			}
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	defer tx.Rollback() // the database stays at the live schema
	a := &analysis{ctx: ctx, tx: tx, display: rep.Dir}
	if err := a.start(); err != nil {
		return rep, err
	}
	for _, f := range fresh {
		file, findings, err := a.file(f)
		rep.Files = append(rep.Files, file)
		rep.Findings = append(rep.Findings, findings...)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// split divides the files into live ones and new ones.
func split(files []migrate.File, since string, replay bool) (live, fresh []migrate.File) {
	if since == "" {
		if replay && len(files) > 0 {
			return files[:len(files)-1], files[len(files)-1:]
		}
		return nil, files
	}
	for _, f := range files {
		if compareVersions(f.Version(), since) <= 0 {
			live = append(live, f)
		} else {
			fresh = append(fresh, f)
		}
	}
	return live, fresh
}

// compareVersions orders versions numerically, part by part (1.10 after 1.9; 00004 = 4).
func compareVersions(a, b string) int {
	pa, pb := strings.FieldsFunc(a, sep), strings.FieldsFunc(b, sep)
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y string
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		nx, ex := strconv.ParseUint(or(x, "0"), 10, 64)
		ny, ey := strconv.ParseUint(or(y, "0"), 10, 64)
		switch {
		case ex == nil && ey == nil && nx != ny:
			if nx < ny {
				return -1
			}
			return 1
		case (ex != nil || ey != nil) && x != y:
			return strings.Compare(x, y)
		}
	}
	return 0
}

func sep(r rune) bool { return r == '.' || r == '_' }

// liveVersion is the version the migration tool recorded in the database.
func liveVersion(ctx context.Context, db *sql.DB, format string) (string, error) {
	queries := map[string]string{
		FormatGoose:         "SELECT coalesce(max(version_id), 0)::text FROM goose_db_version WHERE is_applied",
		FormatGolangMigrate: "SELECT coalesce(max(version), 0)::text FROM schema_migrations",
		FormatDBMate:        "SELECT coalesce(max(version), '0') FROM schema_migrations",
		FormatFlyway:        "SELECT coalesce(max(version), '0') FROM flyway_schema_history WHERE success",
	}
	q, ok := queries[format]
	if !ok {
		return "", fmt.Errorf("%s migrations record no version tandem reads: give the version of the last live file (--migrations-since)", format)
	}
	var v string
	if err := db.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return "", fmt.Errorf("%w: reading the live version (%s): %w; give it as --migrations-since", ErrDatabase, q, err)
	}
	return v, nil
}

// replay applies a live file's statements.
func replay(ctx context.Context, db *sql.DB, f migrate.File) error {
	stmts, err := f.StmtDecls()
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s.Text); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s.Text), err)
		}
	}
	return nil
}

// analysis runs the new files in one transaction.
type analysis struct {
	ctx     context.Context
	tx      *sql.Tx
	display string
	drv     migrate.Driver
	// existed are the relations of the live schema, by OID.
	existed map[uint32]relation
	realm   *schema.Realm
}

func (a *analysis) start() error {
	drv, err := postgres.Open(a.tx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	a.drv = drv
	rels, err := a.relations()
	if err != nil {
		return err
	}
	a.existed = rels
	a.realm, err = drv.InspectRealm(a.ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: inspecting the live schema: %w", ErrDatabase, err)
	}
	return nil
}

type relation struct {
	name string
	kind string
	node uint64
}

// relations are the user relations by OID, with their name, kind and file node.
func (a *analysis) relations() (map[uint32]relation, error) {
	rows, err := a.tx.QueryContext(a.ctx, `SELECT c.oid::bigint, c.oid::regclass::text, c.relkind::text, c.relfilenode::bigint FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND c.relkind IN ('r', 'p', 'i', 'm')`)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	defer rows.Close()
	out := map[uint32]relation{}
	for rows.Next() {
		var oid int64
		var r relation
		if err := rows.Scan(&oid, &r.name, &r.kind, &r.node); err != nil {
			return nil, err
		}
		out[uint32(oid)] = r
	}
	return out, rows.Err()
}

type lockKey struct {
	oid  uint32
	mode string
}

// locks are the backend's granted relation locks.
func (a *analysis) locks() (map[lockKey]bool, error) {
	rows, err := a.tx.QueryContext(a.ctx, `SELECT relation::bigint, mode FROM pg_locks
		WHERE pid = pg_backend_pid() AND locktype = 'relation' AND relation IS NOT NULL AND granted`)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	defer rows.Close()
	out := map[lockKey]bool{}
	for rows.Next() {
		var oid int64
		var mode string
		if err := rows.Scan(&oid, &mode); err != nil {
			return nil, err
		}
		out[lockKey{uint32(oid), mode}] = true
	}
	return out, rows.Err()
}

var (
	concurrently = regexp.MustCompile(`(?i)\bCONCURRENTLY\b`)
	notInTx      = regexp.MustCompile(`(?i)^\s*(VACUUM|CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM|REINDEX\s+.*CONCURRENTLY)`)
)

// file runs one new file's statements, measuring each, and analyses them.
func (a *analysis) file(f migrate.File) (File, []Finding, error) {
	start := time.Now()
	out := File{Name: f.Name()}
	stmts, err := f.StmtDecls()
	if err != nil {
		return out, nil, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	content := f.Bytes()
	pass := &sqlcheck.File{File: f, From: a.realm, Parser: parser{}}
	var findings []Finding
	byStmt := map[*migrate.Stmt]int{}
	offset := 0
	fileNoTx := noTransaction(f)
	for _, s := range stmts {
		var ln int
		ln, offset = line(content, s.Text, offset)
		st := Statement{Line: ln, Text: strings.TrimSpace(s.Text)}
		if fileNoTx || concurrently.MatchString(s.Text) || notInTx.MatchString(s.Text) {
			st.NoTransaction = true
			out.Statements = append(out.Statements, st)
			continue
		}
		m, changes, err := a.measure(s, &st)
		if err != nil {
			return out, findings, err
		}
		byStmt[s] = len(out.Statements)
		out.Statements = append(out.Statements, st)
		if st.Error != "" {
			findings = append(findings, a.finding(f, st, s, "SQL001", fmt.Sprintf("fails on the live schema: %s", st.Error)))
			break // what follows depends on it
		}
		findings = append(findings, a.lockFindings(f, st, s, m)...)
		pass.Changes = append(pass.Changes, &sqlcheck.Change{Stmt: s, Changes: changes})
	}
	pass.To = a.realm
	findings = append(findings, a.atlas(f, pass, out.Statements, byStmt)...)
	out.Duration = time.Since(start)
	return out, findings, nil
}

// measurement is what the statement's run showed besides Statement's fields.
type measurement struct {
	lockTimeout string
	existed     bool // it touched a table of the live schema
}

// measure runs one statement in a savepoint, recording its locks, rewrites and schema changes.
func (a *analysis) measure(s *migrate.Stmt, st *Statement) (measurement, schema.Changes, error) {
	var m measurement
	if err := a.tx.QueryRowContext(a.ctx, "SHOW lock_timeout").Scan(&m.lockTimeout); err != nil {
		return m, nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	relsBefore, err := a.relations()
	if err != nil {
		return m, nil, err
	}
	locksBefore, err := a.locks()
	if err != nil {
		return m, nil, err
	}
	if g := setNotNull.FindStringSubmatch(s.Text); g != nil {
		table, col := strings.Trim(g[1], `"`), strings.Trim(g[2], `"`)
		var n int
		err := a.tx.QueryRowContext(a.ctx, `SELECT count(*) FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'c' AND convalidated
			AND pg_get_constraintdef(oid) ILIKE '%' || $2 || ' IS NOT NULL%'`, table, col).Scan(&n)
		st.hadCheck = err == nil && n > 0
	}
	if _, err := a.tx.ExecContext(a.ctx, "SAVEPOINT tandem_analyze"); err != nil {
		return m, nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	t := time.Now()
	_, execErr := a.tx.ExecContext(a.ctx, s.Text)
	st.Duration = time.Since(t)
	if execErr != nil {
		st.Error = execErr.Error()
		if _, err := a.tx.ExecContext(a.ctx, "ROLLBACK TO SAVEPOINT tandem_analyze"); err != nil {
			return m, nil, fmt.Errorf("%w: %w", ErrDatabase, err)
		}
		return m, nil, nil
	}
	locksAfter, err := a.locks()
	if err != nil {
		return m, nil, err
	}
	for k := range locksAfter {
		rel, ok := a.existed[k.oid]
		if locksBefore[k] || !ok {
			continue
		}
		st.Locks = append(st.Locks, Lock{Relation: rel.name, Mode: sqlMode(k.mode)})
		m.existed = true
	}
	sortLocks(st.Locks)
	relsAfter, err := a.relations()
	if err != nil {
		return m, nil, err
	}
	for oid, r := range relsAfter {
		_, live := a.existed[oid]
		if b, ok := relsBefore[oid]; ok && live && (r.kind == "r" || r.kind == "m") && b.node != r.node {
			st.Rewritten = append(st.Rewritten, b.name)
		}
	}
	slices.Sort(st.Rewritten)
	realm, err := a.drv.InspectRealm(a.ctx, nil)
	if err != nil {
		return m, nil, fmt.Errorf("%w: inspecting the schema after line %d: %w", ErrDatabase, st.Line, err)
	}
	changes, err := a.drv.RealmDiff(a.realm, realm)
	if err != nil {
		return m, nil, fmt.Errorf("diffing the schema after line %d: %w", st.Line, err)
	}
	changes = renames(s.Text, changes)
	a.realm = realm
	return m, changes, nil
}

// sqlMode turns pg_locks' mode (AccessExclusiveLock) into SQL's (ACCESS EXCLUSIVE).
func sqlMode(mode string) string {
	mode = strings.TrimSuffix(mode, "Lock")
	var b strings.Builder
	for i, r := range mode {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

func sortLocks(l []Lock) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j].Relation+l[j].Mode < l[j-1].Relation+l[j-1].Mode; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
