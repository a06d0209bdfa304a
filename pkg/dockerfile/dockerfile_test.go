package dockerfile_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/pkg/dockerfile"
)

const service = `# syntax=docker/dockerfile:1
FROM node:20-alpine AS base
WORKDIR /app
COPY package*.json ./
RUN npm ci \
    --only=production
COPY . .
CMD ["node", "server.js"]
`

func TestPlanMigration(t *testing.T) {
	tests := []struct {
		name       string
		migration  *string
		derive     bool
		entrypoint []string
		cmd        []string
		reason     string
	}{
		{name: "absent", migration: nil, derive: true, reason: "no Dockerfile.migration"},
		{name: "no command (the write-up's)", migration: ptr(strings.Replace(service, `CMD ["node", "server.js"]`, "# ← No CMD/ENTRYPOINT", 1)), derive: true, reason: "differs only in CMD/ENTRYPOINT"},
		{name: "other command, other formatting", migration: ptr("from node:20-alpine as base\nworkdir   /app\nCOPY package*.json ./\nRUN npm ci --only=production\nCOPY . .\nENTRYPOINT npx prisma migrate deploy\n"),
			derive: true, entrypoint: []string{"/bin/sh", "-c", "npx prisma migrate deploy"}},
		{name: "exec form", migration: ptr(strings.Replace(service, `CMD ["node", "server.js"]`, `CMD ["npx", "prisma", "migrate", "deploy"]`, 1)), derive: true, cmd: []string{"npx", "prisma", "migrate", "deploy"}},
		{name: "extra step", migration: ptr(strings.Replace(service, "COPY . .", "COPY . .\nRUN npx prisma generate", 1)), derive: false, reason: "6 build instructions, Dockerfile 5"},
		{name: "other base", migration: ptr(strings.Replace(service, "node:20-alpine", "node:22-alpine", 1)), derive: false, reason: "instruction 1 differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mig []byte
			if tt.migration != nil {
				mig = []byte(*tt.migration)
			}
			p, err := dockerfile.PlanMigration([]byte(service), mig)
			if err != nil {
				t.Fatal(err)
			}
			if p.Derive != tt.derive || !reflect.DeepEqual(p.Entrypoint, tt.entrypoint) || !reflect.DeepEqual(p.Cmd, tt.cmd) || !strings.Contains(p.Reason, tt.reason) {
				t.Errorf("plan = %+v", p)
			}
		})
	}
}

func TestPlanMigrationErrors(t *testing.T) {
	if _, err := dockerfile.PlanMigration([]byte("# only a comment\n"), nil); !errors.Is(err, dockerfile.ErrEmpty) || !strings.Contains(err.Error(), "parsing Dockerfile") {
		t.Errorf("empty Dockerfile = %v", err)
	}
	if _, err := dockerfile.PlanMigration([]byte(service), []byte("\n")); !errors.Is(err, dockerfile.ErrEmpty) || !strings.Contains(err.Error(), "Dockerfile.migration") {
		t.Errorf("empty Dockerfile.migration = %v", err)
	}
}

func ptr(s string) *string { return &s }
