package artifact

import "encoding/json"

func annotations(manifest []byte) map[string]string {
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	if json.Unmarshal(manifest, &m) != nil {
		return nil
	}
	return m.Annotations
}
