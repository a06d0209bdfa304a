package testgit

import "path"

// Under places files (name → content, e.g. manifest.Files) in folder dir of a seed for New.
func Under(dir string, files map[string][]byte) map[string]string {
	seed := make(map[string]string, len(files))
	for name, b := range files {
		seed[path.Join(dir, name)] = string(b)
	}
	return seed
}
