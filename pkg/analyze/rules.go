package analyze

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlcheck"
)

// Rule is what a finding's code means.
type Rule struct {
	Severity   Severity
	Production string // what it means on a live database
	Fix        string // the usual way out
}

const expandContract = "expand/contract over two releases: "

// Rules are the codes an analysis reports: Atlas's open analyzers (DS, BC, MF, CD) and
// tandem's measured checks (LK, RW, SQL).
var Rules = map[string]Rule{
	"DS101":  {SeverityError, "every table of the schema is gone, with its data; the running release fails at once", expandContract + "stop using the schema in one release, drop it in a later one (after a backup)"},
	"DS102":  {SeverityError, "the table and its data are gone; the running release's queries on it fail until its pods are replaced", expandContract + "stop using the table in one release, drop it in the next"},
	"DS103":  {SeverityError, "the column and its data are gone; the running release still reads it, so its queries fail during the rollout", expandContract + "stop reading and writing the column in one release, drop it in the next"},
	"BC101":  {SeverityError, "the running release names the old table: its queries fail from the migration until its pods are replaced", expandContract + "create the new table (or a view under the new name), switch the code, drop the old name later"},
	"BC102":  {SeverityError, "the running release names the old column: its queries fail from the migration until its pods are replaced", expandContract + "add the new column, write both, backfill, switch reads, drop the old column in a later release"},
	"MF101":  {SeverityWarning, "fails if existing rows are not unique: the migration Job fails and the release stops", "check for duplicates first; build the index CONCURRENTLY, then attach it as a constraint"},
	"MF102":  {SeverityWarning, "fails if existing rows are not unique: the migration Job fails and the release stops", "check for duplicates first; build the index CONCURRENTLY"},
	"MF103":  {SeverityWarning, "fails if the table has rows: the migration Job fails and the release stops", "add the column nullable (or with a DEFAULT), backfill, then SET NOT NULL"},
	"MF104":  {SeverityWarning, "fails if any row holds NULL, and scans the table under ACCESS EXCLUSIVE", "backfill NULLs first; add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL"},
	"CD101":  {SeverityWarning, "the database no longer guards the relation: rows the running code did not expect can appear", "drop the foreign key only when no release relies on it"},
	"LK101":  {SeverityWarning, "CREATE INDEX holds a SHARE lock on the table for the whole build: every INSERT, UPDATE and DELETE waits", "CREATE INDEX CONCURRENTLY, in a file that runs without a transaction (goose: -- +goose NO TRANSACTION)"},
	"LK102":  {SeverityWarning, "the new constraint is checked against every row while the table is locked against writes", "ADD CONSTRAINT … NOT VALID, then ALTER TABLE … VALIDATE CONSTRAINT in a later statement (it takes a weaker lock)"},
	"LK103":  {SeverityWarning, "SET NOT NULL scans every row under ACCESS EXCLUSIVE: reads and writes wait for the whole scan", "ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ skips the scan)"},
	"LK104":  {SeverityWarning, "ACCESS EXCLUSIVE queues behind any running query and every query after it queues behind the migration: a short lock becomes an outage", "SET lock_timeout = '5s' (and retry) before statements that take ACCESS EXCLUSIVE"},
	"RW101":  {SeverityError, "the table is rewritten under ACCESS EXCLUSIVE: reads and writes are blocked for as long as copying it takes", expandContract + "add a new column, backfill it in batches, switch the code, drop the old column later"},
	"SQL001": {SeverityError, "the migration Job fails the same way and the release stops", "fix the statement; the pre-flight runs it on the live schema"},
}

// finding makes a finding of code for statement st of file f.
func (a *analysis) finding(f migrate.File, st Statement, s *migrate.Stmt, code, message string) Finding {
	r := Rules[code]
	fd := Finding{Code: code, Severity: r.Severity, File: joinPath(a.display, f.Name()), Line: st.Line, Statement: st.Text,
		Message: message, Production: r.Production, Fix: r.Fix}
	if reason, ok := allowed(s, f.Bytes(), st.Line, code); ok {
		fd.Allowed, fd.Reason = true, reason
	}
	return fd
}

var (
	createIndex = regexp.MustCompile(`(?is)^\s*CREATE\s+(UNIQUE\s+)?INDEX\b`)
	addCheck    = regexp.MustCompile(`(?is)\bADD\s+(CONSTRAINT\s+\S+\s+)?(FOREIGN\s+KEY|CHECK)\b`)
	notValid    = regexp.MustCompile(`(?is)\bNOT\s+VALID\b`)
	setNotNull  = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?("?[\w.]+"?)\s+ALTER\s+(?:COLUMN\s+)?("?\w+"?)\s+SET\s+NOT\s+NULL`)
)

// lockFindings are tandem's measured checks of one statement.
func (a *analysis) lockFindings(f migrate.File, st Statement, s *migrate.Stmt, m measurement) []Finding {
	var out []Finding
	add := func(code, msg string) { out = append(out, a.finding(f, st, s, code, msg)) }
	exclusive := ""
	for _, l := range st.Locks {
		if l.Mode == "ACCESS EXCLUSIVE" && exclusive == "" {
			exclusive = l.Relation
		}
	}
	if createIndex.MatchString(st.Text) {
		for _, l := range st.Locks {
			if l.Mode == "SHARE" {
				add("LK101", fmt.Sprintf("CREATE INDEX without CONCURRENTLY on %s, which holds data already (SHARE lock measured)", l.Relation))
				break
			}
		}
	}
	if addCheck.MatchString(st.Text) && !notValid.MatchString(st.Text) && m.existed {
		add("LK102", fmt.Sprintf("constraint added without NOT VALID on an existing table (%s)", locksText(st.Locks)))
	}
	if g := setNotNull.FindStringSubmatch(st.Text); g != nil && m.existed && !st.hadCheck {
		add("LK103", fmt.Sprintf("SET NOT NULL on %s.%s without a validated CHECK (… IS NOT NULL) before it", strings.Trim(g[1], `"`), strings.Trim(g[2], `"`)))
	}
	if len(st.Rewritten) > 0 {
		add("RW101", fmt.Sprintf("%s rewritten under ACCESS EXCLUSIVE", strings.Join(st.Rewritten, ", ")))
	}
	if exclusive != "" && (m.lockTimeout == "0" || m.lockTimeout == "") {
		add("LK104", fmt.Sprintf("ACCESS EXCLUSIVE on %s with no lock_timeout set", exclusive))
	}
	return out
}

func locksText(l []Lock) string {
	var s []string
	for _, x := range l {
		s = append(s, x.Mode+" on "+x.Relation)
	}
	return strings.Join(s, ", ")
}

// atlas runs Atlas's open analyzers for PostgreSQL on the file's changes.
func (a *analysis) atlas(f migrate.File, pass *sqlcheck.File, stmts []Statement, byStmt map[*migrate.Stmt]int) []Finding {
	analyzers, err := sqlcheck.AnalyzerFor(postgres.DriverName, nil)
	if err != nil || len(pass.Changes) == 0 {
		return nil
	}
	var out []Finding
	byPos := map[int]*migrate.Stmt{}
	for _, c := range pass.Changes {
		byPos[c.Stmt.Pos] = c.Stmt
	}
	report := sqlcheck.ReportWriterFunc(func(r sqlcheck.Report) {
		for _, d := range r.Diagnostics {
			s := byPos[d.Pos]
			if s == nil || d.Code == "" {
				continue
			}
			out = append(out, a.finding(f, stmts[byStmt[s]], s, d.Code, d.Text))
		}
	})
	for _, an := range analyzers {
		_ = an.Analyze(context.Background(), &sqlcheck.Pass{File: pass, Reporter: report})
	}
	return out
}

var allowComment = regexp.MustCompile(`tandem:allow\s+([A-Z]{2,3}\d{3}(?:\s*,\s*[A-Z]{2,3}\d{3})*)\s+"([^"]+)"`)

// allowed looks for `-- tandem:allow CODE "reason"` among the statement's comments or on
// the lines right above it.
func allowed(s *migrate.Stmt, content []byte, line int, code string) (string, bool) {
	texts := append([]string(nil), s.Comments...)
	lines := strings.Split(string(content), "\n")
	for i := line - 2; i >= 0 && i < len(lines); i-- {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "--") {
			break
		}
		texts = append(texts, l)
	}
	for _, t := range texts {
		for _, m := range allowComment.FindAllStringSubmatch(t, -1) {
			for _, c := range strings.Split(m[1], ",") {
				if strings.TrimSpace(c) == code {
					return m[2], true
				}
			}
		}
	}
	return "", false
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}

var (
	renameTable  = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?"?([\w.]+?)"?\s+RENAME\s+TO\s+"?(\w+)"?`)
	renameColumn = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?"?([\w.]+?)"?\s+RENAME\s+(?:COLUMN\s+)?"?(\w+)"?\s+TO\s+"?(\w+)"?`)
)

// renames turns the drop and add a schema diff shows for a RENAME statement into the
// rename it is, as Atlas's own lint does from the statement: the rename analyzers
// (BC101, BC102) see it, the drop analyzers do not.
func renames(stmt string, changes schema.Changes) schema.Changes {
	if g := renameColumn.FindStringSubmatch(stmt); g != nil && !strings.EqualFold(g[2], "TO") {
		for _, c := range changes {
			m, ok := c.(*schema.ModifyTable)
			if !ok {
				continue
			}
			var from, to *schema.Column
			var rest schema.Changes
			for _, mc := range m.Changes {
				switch mc := mc.(type) {
				case *schema.DropColumn:
					if mc.C.Name == g[2] {
						from = mc.C
						continue
					}
				case *schema.AddColumn:
					if mc.C.Name == g[3] {
						to = mc.C
						continue
					}
				}
				rest = append(rest, mc)
			}
			if from != nil && to != nil {
				m.Changes = append(schema.Changes{&schema.RenameColumn{From: from, To: to}}, rest...)
			}
		}
		return changes
	}
	if g := renameTable.FindStringSubmatch(stmt); g != nil {
		var from, to *schema.Table
		var rest schema.Changes
		for _, c := range changes {
			switch c := c.(type) {
			case *schema.DropTable:
				if c.T.Name == lastPart(g[1]) {
					from = c.T
					continue
				}
			case *schema.AddTable:
				if c.T.Name == g[2] {
					to = c.T
					continue
				}
			}
			rest = append(rest, c)
		}
		if from != nil && to != nil {
			return append(schema.Changes{&schema.RenameTable{From: from, To: to}}, rest...)
		}
	}
	return changes
}

func lastPart(name string) string {
	if i := strings.LastIndex(name, "."); i >= 0 {
		return name[i+1:]
	}
	return name
}

// parser answers the questions Atlas's analyzers ask of a file's statements.
type parser struct{}

// CheckNotNullFor reports whether the check is "col IS NOT NULL".
func (parser) CheckNotNullFor(ck *schema.Check, col string) (bool, error) {
	return regexp.MustCompile(`(?i)"?` + regexp.QuoteMeta(col) + `"?\s+IS\s+NOT\s+NULL`).MatchString(ck.Expr), nil
}

// ColumnFilledBefore reports whether a statement before pos sets the column with an UPDATE.
func (parser) ColumnFilledBefore(stmts []*migrate.Stmt, t *schema.Table, c *schema.Column, pos int) (bool, error) {
	re := regexp.MustCompile(`(?is)^\s*UPDATE\s+(?:ONLY\s+)?"?(?:\w+\.)?` + regexp.QuoteMeta(t.Name) + `"?\s+SET\s+.*\b"?` + regexp.QuoteMeta(c.Name) + `"?\s*=`)
	for _, s := range stmts {
		if s.Pos < pos && re.MatchString(s.Text) {
			return true, nil
		}
	}
	return false, nil
}
