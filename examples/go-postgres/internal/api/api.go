// Package api serves the notes over HTTP.
package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/tandem-ci/tandem/examples/go-postgres/internal/store"
)

// SchemaVersion reports the database's schema version.
type SchemaVersion func(ctx context.Context) (int64, error)

// Handler returns the service's routes: GET/POST /notes, GET /readyz (ready only when
// the schema is at least the version this build needs).
func Handler(s *store.Store, version SchemaVersion, want int64) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /notes", func(w http.ResponseWriter, r *http.Request) {
		notes, err := s.List(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, notes)
	})
	mux.HandleFunc("POST /notes", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Content string `json:"content"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Content == "" {
			http.Error(w, `want {"content": "..."}`, http.StatusBadRequest)
			return
		}
		n, err := s.Create(r.Context(), in.Content)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusCreated, n)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		v, err := version(r.Context())
		switch {
		case err != nil:
			http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
		case v < want:
			http.Error(w, fmt.Sprintf("schema version %d, this build needs %d: the migration Job has not run", v, want), http.StatusServiceUnavailable)
		default:
			fmt.Fprintf(w, "ok (schema version %d)\n", v)
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
